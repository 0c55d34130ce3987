# elf_guest: linked as an ELF64 executable at 0x200000; prints through the UART and exits 0.
  .code64
  .globl _start
_start:
  mov $0x3f8, %dx
  lea message(%rip), %rsi
1:
  lodsb
  test %al, %al
  jz 2f
  out %al, (%dx)
  jmp 1b
2:
  mov $0x501, %dx
  xor %eax, %eax
  out %eax, (%dx)
message:
  .asciz "hello from an ELF image\r\n"
  .bss
  .space 8192                   # memsz > filesz: the loader zero-fills
