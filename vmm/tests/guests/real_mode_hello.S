# real_mode_hello: an hvctl run test guest (see vmm/tests/CMakeLists.txt)
  .code16
  .globl _start
_start:
  mov $0x3f8, %dx
  mov $message, %si
1:
  lodsb
  test %al, %al
  jz 2f
  out %al, (%dx)
  jmp 1b
2:
  mov $0x501, %dx
  xor %ax, %ax
  out %ax, (%dx)
message:
  .asciz "hello from real mode\r\n"
