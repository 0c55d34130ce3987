# virtio_rng: a virtio-mmio entropy driver, as small as a real one can be. Finds virtio-rng (device
# ID 4) at 0xd0000000, negotiates VERSION_1, sets up queue 0 (8 entries), asks twice for 64 bytes
# into two buffers the guest first fills with 0xAA, and exits through debug-exit with 0 — or with the
# number of the check that failed: a device that answers with fewer bytes, leaves a buffer untouched or
# returns the same bytes twice is not giving entropy. (The chance that 64 random bytes equal 64 others,
# or are all 0xAA, is 2^-512.)
  .code64
  .set BASE,   0xd0000000
  .set DESC,   0x100000
  .set AVAIL,  0x101000
  .set USED,   0x102000
  .set BUF1,   0x104000
  .set BUF2,   0x105000
  .set BYTES,  64
  .globl _start
_start:
  mov $BASE, %r15d
  mov $1, %ebx
  cmpl $0x74726976, 0x00(%r15)   # "virt"
  jne fail
  mov $2, %ebx
  cmpl $2, 0x04(%r15)            # version 2
  jne fail
  mov $3, %ebx
  cmpl $4, 0x08(%r15)            # device ID 4: entropy
  jne fail
  movl $0, 0x70(%r15)            # reset
  movl $1, 0x70(%r15)            # ACKNOWLEDGE
  movl $3, 0x70(%r15)            # DRIVER
  movl $1, 0x14(%r15)            # DeviceFeaturesSel = 1
  mov $4, %ebx
  testl $1, 0x10(%r15)           # VIRTIO_F_VERSION_1 offered
  jz fail
  movl $0, 0x24(%r15)
  movl $0, 0x20(%r15)
  movl $1, 0x24(%r15)
  movl $1, 0x20(%r15)            # VERSION_1
  movl $11, 0x70(%r15)           # FEATURES_OK
  mov $5, %ebx
  testl $8, 0x70(%r15)
  jz fail
  movl $0, 0x30(%r15)            # QueueSel 0
  mov $6, %ebx
  cmpl $8, 0x34(%r15)            # QueueNumMax
  jb fail
  movl $8, 0x38(%r15)
  movl $DESC, 0x80(%r15)
  movl $0, 0x84(%r15)
  movl $AVAIL, 0x90(%r15)
  movl $0, 0x94(%r15)
  movl $USED, 0xa0(%r15)
  movl $0, 0xa4(%r15)
  movl $1, 0x44(%r15)            # QueueReady
  movl $15, 0x70(%r15)           # DRIVER_OK

  # Both buffers 0xAA, so an untouched one shows.
  mov $BUF1, %edi
  mov $0xAA, %al
  mov $0x2000, %ecx
  cld
  rep stosb
  # Descriptor 0: BUF1, descriptor 1: BUF2; each one device-writable buffer of 64 bytes.
  movq $BUF1, DESC+0
  movl $BYTES, DESC+8
  movw $2, DESC+12               # WRITE
  movq $BUF2, DESC+16
  movl $BYTES, DESC+24
  movw $2, DESC+28
  movw $0, AVAIL+4               # ring[0] = head 0
  movw $1, AVAIL+2
  movl $0, 0x50(%r15)            # QueueNotify
  mov $1, %eax
  call wait_used
  movw $1, AVAIL+6               # ring[1] = head 1
  movw $2, AVAIL+2
  movl $0, 0x50(%r15)
  mov $2, %eax
  call wait_used
  mov $7, %ebx
  cmpl $BYTES, USED+8            # used[0].len
  jne fail
  cmpl $BYTES, USED+16           # used[1].len
  jne fail
  mov $8, %ebx
  mov $BUF1, %esi                # the buffers differ from each other ...
  mov $BUF2, %edi
  mov $BYTES, %ecx
  repe cmpsb
  je fail
  mov $9, %ebx
  mov $BUF1, %edi                # ... and neither is still 0xAA everywhere
  mov $0xAA, %al
  mov $BYTES, %ecx
  repe scasb
  je fail
  mov $BUF2, %edi
  mov $BYTES, %ecx
  repe scasb
  je fail

  lea message(%rip), %rsi
  mov $0x3f8, %dx
2:lodsb
  test %al, %al
  jz 3f
  out %al, (%dx)
  jmp 2b
3:xor %ebx, %ebx
fail:
  mov %ebx, %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt

# Polls the used ring until its index reaches %ax; gives up after 2^28 polls with check 10.
wait_used:
  mov $0x10000000, %ecx
4:cmpw %ax, USED+2
  je 5f
  pause
  dec %ecx
  jnz 4b
  mov $10, %ebx
  jmp fail
5:ret

message:
  .asciz "virtio-rng: two 64-byte answers, different and filled\n"
