# uart_escapes: an hvctl run test guest (see vmm/tests/CMakeLists.txt and hvctl/tests/console_filter.sh).
# Writes text mixed with terminal control strings (OSC 52, an OSC title, DCS, a UTF-8 C1 OSC, an ESC %
# coding switch) and a CSI colour through the UART, one byte per OUT, then exits through debug-exit.
  .code64
  .globl _start
_start:
  mov $0x3f8, %dx
  lea message(%rip), %rsi
  mov $(message_end - message), %ecx
1:
  lodsb
  out %al, (%dx)
  loop 1b
  mov $0x501, %dx
  xor %eax, %eax
  out %eax, (%dx)
message:
  .ascii "plain "
  .byte 0x1b
  .ascii "]52;c;U0VDUkVU"
  .byte 0x07
  .ascii "osc52 "
  .byte 0x1b
  .ascii "]0;SECRET title"
  .byte 0x1b
  .ascii "\\"
  .byte 0x1b
  .ascii "[31mred"
  .byte 0x1b
  .ascii "[0m "
  .byte 0x1b
  .ascii "P$qSECRET"
  .byte 0x1b
  .ascii "\\dcs "
  .byte 0xc2, 0x9d
  .ascii "0;SECRET"
  .byte 0xc2, 0x9c
  .ascii "c1 "
  .byte 0x1b
  .ascii "%@utf8 "
  .byte 0xc3, 0xa9
  .ascii " end\r\n"
message_end:
