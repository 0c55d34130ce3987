# hvkit_library(NAME <target> EXPORT_NAME <name> SOURCES ... DEPENDS ...)
# A library with a public include/ directory, an hvkit:: alias, and an install/export rule.
function(hvkit_library target)
  cmake_parse_arguments(ARG "" "EXPORT_NAME" "SOURCES;DEPENDS" ${ARGN})
  add_library(${target} ${ARG_SOURCES})
  add_library(hvkit::${ARG_EXPORT_NAME} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${ARG_EXPORT_NAME} OUTPUT_NAME hvkit_${ARG_EXPORT_NAME})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(${target} PUBLIC ${ARG_DEPENDS})
  target_compile_features(${target} PUBLIC cxx_std_20)
  install(TARGETS ${target} EXPORT hvkitTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# hvkit_gtest(<target> SOURCES ... DEPENDS ...)
# A GoogleTest binary whose cases CTest lists one by one; GTEST_SKIP shows as "skipped", never "passed".
function(hvkit_gtest target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPENDS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${target}
    DISCOVERY_TIMEOUT 60
    PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]" TIMEOUT 120)
endfunction()

# hvkit_fuzzer(<target> SOURCES ... DEPENDS ...)
# A libFuzzer binary; its seed corpus lives in corpus/<target without _fuzz> beside the sources.
function(hvkit_fuzzer target)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_DEPENDS})
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
endfunction()
