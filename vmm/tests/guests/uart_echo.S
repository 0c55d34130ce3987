# uart_echo: reads 5 bytes from the UART (polling LSR.DR), echoes them back in upper case, exits 0.
  .code64
  .globl _start
_start:
  mov $5, %ecx
1:
  mov $0x3fd, %dx
2:
  in (%dx), %al
  test $1, %al                  # LSR.DR: a byte is waiting
  jz 2b
  mov $0x3f8, %dx
  in (%dx), %al
  and $0xdf, %al                # to upper case
  out %al, (%dx)
  loop 1b
  mov $0x501, %dx
  xor %eax, %eax
  out %eax, (%dx)
