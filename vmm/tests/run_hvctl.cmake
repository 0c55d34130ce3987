# Runs hvctl with ARGS and checks its exit status and (optionally) a regex over stdout+stderr
# (EXPECT_OUTPUT) and one over stdout alone (EXPECT_STDOUT, the guest's console).
# The guest's reason for ending is in the output, so a wrong status names itself.
# SKIP_IF_EXISTS: a path whose existence makes the expectation moot on this host (prints "SKIPPED:").
if(NOT "${SKIP_IF_EXISTS}" STREQUAL "" AND EXISTS "${SKIP_IF_EXISTS}")
  message(STATUS "SKIPPED: ${SKIP_IF_EXISTS} exists on this host")
  return()
endif()
# STDIN: text given to the guest's UART through hvctl's standard input (default: none).
# FIFO: a path made a named pipe (with no writer) before the run, for tests that hand hvctl one.
if(NOT "${FIFO}" STREQUAL "")
  file(REMOVE "${FIFO}")
  execute_process(COMMAND mkfifo "${FIFO}" RESULT_VARIABLE made)
  if(NOT made EQUAL 0)
    message(FATAL_ERROR "cannot make the FIFO ${FIFO}")
  endif()
endif()
# DISK: a path made a fresh, empty 1 MiB image before the run, for tests that give hvctl a --blk.
if(NOT "${DISK}" STREQUAL "")
  file(REMOVE "${DISK}")
  execute_process(COMMAND truncate -s 1M "${DISK}" RESULT_VARIABLE made)
  if(NOT made EQUAL 0)
    message(FATAL_ERROR "cannot make the disk image ${DISK}")
  endif()
endif()
set(input /dev/null)
if(DEFINED STDIN AND NOT "${STDIN}" STREQUAL "")
  string(MD5 tag "${ARGS}${STDIN}")
  set(input "${CMAKE_CURRENT_BINARY_DIR}/hvctl_stdin_${tag}.txt")
  file(WRITE "${input}" "${STDIN}")
endif()
execute_process(COMMAND ${HVCTL} run ${ARGS} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
                INPUT_FILE "${input}" TIMEOUT 60)
set(all "${out}${err}")
if(NOT "${status}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "hvctl run ${ARGS}: exit status ${status}, expected ${EXPECT_EXIT}\n${all}")
endif()
if(NOT "${EXPECT_OUTPUT}" STREQUAL "" AND NOT "${all}" MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "hvctl run ${ARGS}: output does not match '${EXPECT_OUTPUT}':\n${all}")
endif()
if(NOT "${EXPECT_STDOUT}" STREQUAL "" AND NOT "${out}" MATCHES "${EXPECT_STDOUT}")
  message(FATAL_ERROR "hvctl run ${ARGS}: standard output does not match '${EXPECT_STDOUT}':\n${out}")
endif()
message(STATUS "hvctl run ${ARGS}: exit ${status} as expected")
