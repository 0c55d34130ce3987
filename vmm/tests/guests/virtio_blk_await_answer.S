# virtio_blk_await_answer: makes virtio-blk live (blk_setup), prints "virtio-blk: live", makes one
# GET_ID request available and then waits for whichever comes first: the device's used-buffer
# interrupt (InterruptStatus bit 0): prints "virtio-blk: answered" and exits with 30; or
# DEVICE_NEEDS_RESET (Status bit 64): prints "virtio-blk: device needs reset", resets the device
# (Status = 0, which must read back 0; check 10 otherwise) and exits with 0. It waits on the interrupt
# status, not the used index: a hostile backend writes the used index itself, before the VMM has
# looked at it. It waits without end otherwise: the host test bounds it with hvctl's --timeout.
  .code64
  .globl _start
_start:
  jmp main
  .include "virtio_blk_lib.inc"
main:
  call blk_setup
  lea live(%rip), %rsi
  call puts
  movl $8, HDR                   # GET_ID
  movl $0, HDR+4
  movq $0, HDR+8
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
  mov $1, %eax
  call publish
1:testl $64, 0x70(%r15)          # DEVICE_NEEDS_RESET
  jnz 2f
  testl $1, 0x60(%r15)           # InterruptStatus: used buffer
  jnz 3f
  pause
  jmp 1b
2:lea needs_reset(%rip), %rsi
  call puts
  movl $0, 0x70(%r15)            # reset
  mov $10, %ebx
  cmpl $0, 0x70(%r15)
  jne fail
  xor %ebx, %ebx
  jmp fail
3:lea answered(%rip), %rsi
  call puts
  mov $30, %ebx
  jmp fail
live:
  .asciz "virtio-blk: live\n"
needs_reset:
  .asciz "virtio-blk: device needs reset\n"
answered:
  .asciz "virtio-blk: answered\n"
