# cmake -DHVCTL=<hvctl> -DSHIM=<einval_ioctl_shim.so> -P kernel_einval.cmake
# A kernel EINVAL is not a usage error: `hvctl run` on KVM with KVM_CREATE_VCPU refused with EINVAL
# (by an LD_PRELOAD shim, as a kernel would refuse it) exits 4 (hypervisor or host error), naming the
# errno, and prints no usage text. (Before, EINVAL was InvalidArgument and hvctl exited 2.)
if(NOT EXISTS /dev/kvm)
  message(STATUS "SKIPPED: no /dev/kvm")
  return()
endif()
set(kvm_create_vcpu 0xae41)  # _IO(KVMIO, 0x41), <linux/kvm.h>
# ASan wants to be first in the library list; the shim only has to come before libc.
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env LD_PRELOAD=${SHIM} HVKIT_TEST_EINVAL_IOCTL=${kvm_create_vcpu}
          ASAN_OPTIONS=verify_asan_link_order=0 ${HVCTL} run --backend kvm --timeout 10
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err INPUT_FILE /dev/null TIMEOUT 60)
if(err MATCHES "no /dev/kvm|unavailable")
  message(STATUS "SKIPPED: KVM cannot be opened here: ${err}")
  return()
endif()
if(NOT status STREQUAL "4")
  message(FATAL_ERROR "a kernel EINVAL: exit status ${status}, expected 4\nstdout:\n${out}\nstderr:\n${err}")
endif()
if(NOT err MATCHES "KVM_CREATE_VCPU[^\n]*errno 22")
  message(FATAL_ERROR "the refused ioctl and its errno are not named:\n${err}")
endif()
if(err MATCHES "usage:")
  message(FATAL_ERROR "a kernel EINVAL printed the usage text:\n${err}")
endif()
message(STATUS "a kernel EINVAL from KVM_CREATE_VCPU: exit 4, not the usage status")
