# virtio_blk_get_id: sends GET_ID (20 bytes) and prints "id=[...]" with the ID string (up to its NUL),
# then exits with 0; check 20 if the status is not OK, 21 if the used length is not 20 + 1. The host
# test gives (or not) `--blk PATH,serial=ID` and matches the line.
  .code64
  .globl _start
_start:
  jmp main
  .include "virtio_blk_lib.inc"
main:
  call blk_setup
  movl $8, HDR                   # GET_ID
  movl $0, HDR+4
  movq $0, HDR+8
  mov $DATA, %edi
  mov $0xee, %al
  mov $20, %ecx
  rep stosb
  movq $HDR, TABLE
  movl $16, TABLE+8
  movw $F_NEXT, TABLE+12
  movw $1, TABLE+14
  movq $DATA, TABLE+16
  movl $20, TABLE+24
  movw $F_WRITE | F_NEXT, TABLE+28
  movw $2, TABLE+30
  movq $STATUS, TABLE+32
  movl $1, TABLE+40
  movw $F_WRITE, TABLE+44
  movw $0, TABLE+46
  mov $48, %ecx
  call fill_ring
  movb $0xff, STATUS
  mov $1, %eax
  call publish
  mov $1, %eax
  call wait_used
  mov $20, %ebx
  cmpb $0, STATUS
  jne fail
  mov $21, %ebx
  cmpl $21, USED+8               # used ring[0].len
  jne fail
  lea prefix(%rip), %rsi
  call puts
  mov $DATA, %esi
  mov $20, %ecx
  mov $0x3f8, %dx
6:lodsb
  test %al, %al
  jz 7f
  out %al, (%dx)
  loop 6b
7:lea suffix(%rip), %rsi
  call puts
  xor %ebx, %ebx
  jmp fail

prefix:
  .asciz "id=["
suffix:
  .asciz "]\n"
