# testdev: writes and reads back the --testdev scratch MMIO window and port at several widths and
# alignments; exits with status 0 when everything read back, else the number of the failed check.
  .code64
  .globl _start
_start:
  mov $0xd8000000, %edi
  movabs $0x1122334455667788, %rax
  mov %rax, 0x10(%rdi)          # 8 bytes, aligned
  mov $1, %ebx
  cmp %rax, 0x10(%rdi)
  jne fail
  mov $2, %ebx
  movw 0x13(%rdi), %cx          # 2 bytes, unaligned, inside what was written
  cmp $0x4455, %cx
  jne fail
  mov $3, %ebx
  movl $0xcafef00d, 0xffc(%rdi) # the last 4 bytes of the window
  cmpl $0xcafef00d, 0xffc(%rdi)
  jne fail
  mov $4, %ebx
  mov $0xe0, %dx
  mov $0xa5a55a5a, %eax
  out %eax, (%dx)               # 4-byte scratch port
  xor %eax, %eax
  in (%dx), %eax
  cmp $0xa5a55a5a, %eax
  jne fail
  mov $5, %ebx
  mov $0xe2, %dx
  in (%dx), %ax                 # the upper half, at port 0xe2
  cmp $0xa5a5, %ax
  jne fail
  xor %ebx, %ebx
fail:
  mov %ebx, %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt
