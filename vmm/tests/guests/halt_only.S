# halt_only: an hvctl run test guest (see vmm/tests/CMakeLists.txt)
  .code64
  .globl _start
_start:
  hlt
