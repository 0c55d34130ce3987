# virtio_console_flood: a guest that floods the virtio console (hvctl run --console, the device at
# 0xd0000000): one notification of 256 transmit requests of 64 KiB each, 16 MiB in all (the most one
# request may carry times the queue size). Exits through debug-exit with 0 once the device has used
# every request, or with the number of the check that failed. The hvctl tests count what reached
# stdout (vmm/tests/run_hvctl_console_flood.cmake).
  .code64
  .set BASE,    0xd0000000
  .set RXDESC,  0x100000         # receiveq: 8 entries, never given a buffer
  .set RXAVAIL, 0x101000
  .set RXUSED,  0x102000
  .set DESC,    0x110000         # transmitq: 256 entries
  .set AVAIL,   0x111000
  .set USED,    0x112000
  .set BUF,     0x200000         # 64 KiB of 'F', named by every request
  .set REQUESTS, 256
  .set BYTES,   65536
  .globl _start
_start:
  mov $BASE, %r15d
  mov $1, %ebx
  cmpl $0x74726976, 0x00(%r15)   # "virt"
  jne fail
  mov $2, %ebx
  cmpl $3, 0x08(%r15)            # device ID 3: console
  jne fail
  movl $0, 0x70(%r15)            # reset
  movl $1, 0x70(%r15)            # ACKNOWLEDGE
  movl $3, 0x70(%r15)            # DRIVER
  movl $0, 0x24(%r15)
  movl $0, 0x20(%r15)            # no device-specific features
  movl $1, 0x24(%r15)
  movl $1, 0x20(%r15)            # VERSION_1
  movl $11, 0x70(%r15)           # FEATURES_OK
  mov $3, %ebx
  testl $8, 0x70(%r15)
  jz fail

  movl $0, 0x30(%r15)            # QueueSel 0: receiveq
  movl $8, 0x38(%r15)
  movl $RXDESC, 0x80(%r15)
  movl $0, 0x84(%r15)
  movl $RXAVAIL, 0x90(%r15)
  movl $0, 0x94(%r15)
  movl $RXUSED, 0xa0(%r15)
  movl $0, 0xa4(%r15)
  movl $1, 0x44(%r15)
  movl $1, 0x30(%r15)            # QueueSel 1: transmitq
  mov $4, %ebx
  cmpl $REQUESTS, 0x34(%r15)     # QueueNumMax
  jb fail
  movl $REQUESTS, 0x38(%r15)
  movl $DESC, 0x80(%r15)
  movl $0, 0x84(%r15)
  movl $AVAIL, 0x90(%r15)
  movl $0, 0x94(%r15)
  movl $USED, 0xa0(%r15)
  movl $0, 0xa4(%r15)
  movl $1, 0x44(%r15)
  movl $15, 0x70(%r15)           # DRIVER_OK

  mov $BUF, %edi
  mov $BYTES, %ecx
  mov $0x46, %al                 # 'F'
  cld
  rep stosb
  # Descriptor i = {BUF, 64 KiB, no flags}; avail ring[i] = i.
  xor %ecx, %ecx
1:mov %ecx, %eax
  shl $4, %eax
  movq $BUF, DESC(%rax)
  movl $BYTES, DESC+8(%rax)
  movl $0, DESC+12(%rax)
  movw %cx, AVAIL+4(,%rcx,2)
  inc %ecx
  cmp $REQUESTS, %ecx
  jb 1b
  movw $REQUESTS, AVAIL+2        # avail idx (x86 keeps the stores in order)
  movl $1, 0x50(%r15)            # QueueNotify: transmitq

  # Poll the used index; notify again every 2^16 polls (a device may serve a queue in parts), give
  # up after 2^24 polls with check 5.
  mov $0x1000000, %ecx
2:cmpw $REQUESTS, USED+2
  je 3f
  test $0xffff, %ecx
  jnz 4f
  movl $1, 0x50(%r15)
4:dec %ecx
  jnz 2b
  mov $5, %ebx
  jmp fail
3:xor %ebx, %ebx
fail:
  mov %ebx, %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt
