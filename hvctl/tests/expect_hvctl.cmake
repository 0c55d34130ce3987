# Runs `hvctl ARGS` and checks its exact exit status (WILL_FAIL would accept any non-zero one) and,
# optionally, a regex over standard output (EXPECT_STDOUT) and one over standard error (EXPECT_STDERR).
# SKIP_IF_EXISTS: a path whose existence makes the expectation moot on this host (prints "SKIPPED:").
if(NOT "${SKIP_IF_EXISTS}" STREQUAL "" AND EXISTS "${SKIP_IF_EXISTS}")
  message(STATUS "SKIPPED: ${SKIP_IF_EXISTS} exists on this host")
  return()
endif()
execute_process(COMMAND ${HVCTL} ${ARGS} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
                INPUT_FILE /dev/null TIMEOUT 300)
if(NOT "${status}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "hvctl ${ARGS}: exit status ${status}, expected ${EXPECT_EXIT}\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT "${EXPECT_STDOUT}" STREQUAL "" AND NOT "${out}" MATCHES "${EXPECT_STDOUT}")
  message(FATAL_ERROR "hvctl ${ARGS}: standard output does not match '${EXPECT_STDOUT}':\n${out}")
endif()
if(NOT "${EXPECT_STDERR}" STREQUAL "" AND NOT "${err}" MATCHES "${EXPECT_STDERR}")
  message(FATAL_ERROR "hvctl ${ARGS}: standard error does not match '${EXPECT_STDERR}':\n${err}")
endif()
message(STATUS "hvctl ${ARGS}: exit ${status} as expected")
