# exit_status: an hvctl run test guest (see vmm/tests/CMakeLists.txt)
  .code64
  .globl _start
_start:
  mov $0x501, %dx
  mov $7, %eax
  out %eax, (%dx)
  hlt
