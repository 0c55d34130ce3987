# virtio_blk_await_reset: makes virtio-blk live (blk_setup), prints "virtio-blk: live", then waits for
# the device to set DEVICE_NEEDS_RESET (Status bit 64) — a vhost-user backend that died does — prints
# "virtio-blk: device needs reset", resets it (Status = 0, which must read back 0) and exits with 0.
# Check 10: Status did not read 0 after the reset. It waits without end otherwise: the host test
# bounds it with hvctl's --timeout.
  .code64
  .globl _start
_start:
  jmp main
  .include "virtio_blk_lib.inc"
main:
  call blk_setup
  lea live(%rip), %rsi
  call puts
1:testl $64, 0x70(%r15)          # DEVICE_NEEDS_RESET
  jnz 2f
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
live:
  .asciz "virtio-blk: live\n"
needs_reset:
  .asciz "virtio-blk: device needs reset\n"
