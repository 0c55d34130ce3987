# The guest of 04_virtio_console.cpp: a virtio-mmio console driver, as small as one can be, in 64-bit
# code. It finds the device at 0xd0000000, negotiates VERSION_1, sets up the receive queue (0) and the
# transmit queue (1), offers one buffer with its message on the transmit queue, notifies, waits for
# the device to use it, and reports through debug-exit (port 0x501): 0, or the number of the check
# that failed. Assembled into the host program as data between guide_virtio_guest and
# guide_virtio_guest_end; position-independent (it finds its message RIP-relative), so the host may
# copy it anywhere in identity-mapped RAM.
  .section .rodata
  .globl guide_virtio_guest, guide_virtio_guest_end
  .balign 16
guide_virtio_guest:
  .code64
  .set BASE, 0xd0000000      # the device's 4 KiB register window
  .set RXQ,  0x10000         # queue 0: descriptors here, driver area +0x1000, device area +0x2000
  .set TXQ,  0x20000         # queue 1, the same layout
  mov $BASE, %r15d
  mov $1, %ebx
  cmpl $0x74726976, 0x00(%r15)   # MagicValue "virt"
  jne fail
  mov $2, %ebx
  cmpl $3, 0x08(%r15)            # DeviceID 3: console
  jne fail
  # [guide:virtio_driver_init]
  movl $0, 0x70(%r15)            # Status = 0: reset
  movl $1, 0x70(%r15)            # ACKNOWLEDGE
  movl $3, 0x70(%r15)            # DRIVER
  movl $1, 0x24(%r15)            # DriverFeaturesSel = 1 (bits 32..63)
  movl $1, 0x20(%r15)            # DriverFeatures: VIRTIO_F_VERSION_1 (bit 32)
  movl $11, 0x70(%r15)           # FEATURES_OK
  mov $3, %ebx
  testl $8, 0x70(%r15)           # still set: the device accepted the features
  jz fail
  xor %eax, %eax
  mov $RXQ, %edx
  call setup_queue
  mov $1, %eax
  mov $TXQ, %edx
  call setup_queue
  movl $15, 0x70(%r15)           # DRIVER_OK: the transport activates the device
  # [/guide:virtio_driver_init]

  # [guide:virtio_driver_send]
  lea message(%rip), %rax
  mov %rax, TXQ                  # descriptor 0: address,
  movl $(message_end - message), TXQ+8   # length,
  movw $0, TXQ+12                # flags: device-readable, no next
  movw $0, TXQ+0x1000+4          # available ring[0] = descriptor 0
  movw $1, TXQ+0x1000+2          # available index = 1
  movl $1, 0x50(%r15)            # QueueNotify = 1: the device reads the buffer
  mov $4, %ebx
  mov $0x100000, %ecx            # bounded wait for used index 1
1:cmpw $1, TXQ+0x2000+2
  je 2f
  pause
  dec %ecx
  jnz 1b
  jmp fail
  # [/guide:virtio_driver_send]
2:xor %ebx, %ebx
fail:
  mov %ebx, %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt

# Queue %eax with 8 entries, its three areas at %edx, +0x1000 and +0x2000 (all below 4 GiB).
setup_queue:
  mov %eax, 0x30(%r15)           # QueueSel
  mov $5, %ebx
  cmpl $8, 0x34(%r15)            # QueueNumMax
  jb fail
  movl $8, 0x38(%r15)            # QueueNum
  mov %edx, 0x80(%r15)           # QueueDesc
  movl $0, 0x84(%r15)
  lea 0x1000(%rdx), %ecx
  mov %ecx, 0x90(%r15)           # QueueDriver (available ring)
  movl $0, 0x94(%r15)
  lea 0x2000(%rdx), %ecx
  mov %ecx, 0xa0(%r15)           # QueueDevice (used ring)
  movl $0, 0xa4(%r15)
  movl $1, 0x44(%r15)            # QueueReady
  mov $6, %ebx
  cmpl $1, 0x44(%r15)            # reads back 1 only if the transport accepted the queue
  jne fail
  ret

message:
  .ascii "hello from virtio-console\n"
message_end:
guide_virtio_guest_end:
  .section .note.GNU-stack,"",@progbits
