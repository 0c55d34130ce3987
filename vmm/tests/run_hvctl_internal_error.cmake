# The emulation_failure guest under `hvctl run --backend BACKEND`: where the hypervisor cannot run its
# first instruction (POPCNT at 0x1000), hvctl must say what the hypervisor said: the suberror by name,
# the RIP, and the instruction bytes, and exit 4. Where the CPU runs the instruction (exit 0x42, the
# guest's own status) the expectation does not apply here: the test reports itself skipped, and
# KvmExitDecoder.* cover the decoding.
execute_process(COMMAND ${HVCTL} run --backend ${BACKEND} --load 0x1000 ${GUEST}
                RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err INPUT_FILE /dev/null TIMEOUT 60)
if(status EQUAL 66)
  message(STATUS "SKIPPED: ${BACKEND} on this host runs POPCNT without an emulation failure")
  return()
endif()
set(expected "hvctl run: vCPU 0: the hypervisor could not run the guest: KVM_INTERNAL_ERROR_EMULATION \\(code 0x1\\) at RIP 0x1000, instruction bytes f3 48 0f b8 d8")
if(NOT status EQUAL 4 OR NOT err MATCHES "${expected}")
  message(FATAL_ERROR "hvctl run --backend ${BACKEND}: exit ${status} (expected 4, or 66 where POPCNT runs)\n${out}${err}\nexpected stderr to match '${expected}'")
endif()
message(STATUS "hvctl run --backend ${BACKEND}: ${err}")
