# exit_256: an hvctl run test guest (see vmm/tests/CMakeLists.txt): a debug-exit value above 255,
# which must not become exit status 0.
  .code64
  .globl _start
_start:
  mov $0x501, %dx
  mov $256, %eax
  out %eax, (%dx)
  hlt
