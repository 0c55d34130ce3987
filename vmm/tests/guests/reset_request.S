# reset_request: an hvctl run test guest (see vmm/tests/CMakeLists.txt)
  .code64
  .globl _start
_start:
  mov $0xfe, %al
  out %al, $0x64
1:
  jmp 1b
