# cmake -DCXX=<compiler> -DINCLUDES=<dir|dir|...> -DSOURCE=<snippet> -P result_nodiscard_check.cmake
# Proves hv::Result is must-use: the snippet compiles with -Werror as written, and fails, naming
# nodiscard, once it drops a Result<void>. The first half keeps the check from passing because the
# snippet (or the include path) is broken for some other reason.
string(REPLACE "|" ";" include_dirs "${INCLUDES}")
list(REMOVE_ITEM include_dirs /usr/include)  # a system directory given as -I breaks #include_next
set(flags -std=c++20 -fsyntax-only -Wall -Wextra -Werror)
foreach(dir IN LISTS include_dirs)
  list(APPEND flags "-I${dir}")
endforeach()

execute_process(COMMAND ${CXX} ${flags} ${SOURCE} RESULT_VARIABLE used_status ERROR_VARIABLE used_errors)
if(NOT used_status EQUAL 0)
  message(FATAL_ERROR "the snippet that uses its results does not compile:\n${used_errors}")
endif()

execute_process(COMMAND ${CXX} ${flags} -DHVKIT_DROP_RESULT ${SOURCE}
                RESULT_VARIABLE dropped_status ERROR_VARIABLE dropped_errors)
if(dropped_status EQUAL 0)
  message(FATAL_ERROR "dropping an hv::Result<void> compiled with -Werror: Result is not [[nodiscard]]")
endif()
if(NOT dropped_errors MATCHES "nodiscard")
  message(FATAL_ERROR "dropping an hv::Result<void> failed, but not for nodiscard:\n${dropped_errors}")
endif()
message(STATUS "dropping an hv::Result<void> is an error with -Werror; using it compiles")
