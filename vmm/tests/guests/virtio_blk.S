# virtio_blk: a virtio-mmio block driver, as small as a real one can be. Finds the device at
# 0xd0000000, negotiates VERSION_1, sets up queue 0 (8 entries), writes sectors 1..4 with a pattern,
# reads them back into another buffer, compares, flushes, and exits through debug-exit with 0 — or
# with the number of the check that failed. The host test then checks the disk image itself.
  .code64
  .set BASE,   0xd0000000
  .set DESC,   0x100000
  .set AVAIL,  0x101000
  .set USED,   0x102000
  .set HDR,    0x103000
  .set DATA,   0x104000
  .set STATUS, 0x105000
  .set RDATA,  0x106000
  .set BYTES,  2048
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
  cmpl $2, 0x08(%r15)            # device ID 2: block
  jne fail
  movl $0, 0x70(%r15)            # reset
  movl $1, 0x70(%r15)            # ACKNOWLEDGE
  movl $3, 0x70(%r15)            # DRIVER
  movl $1, 0x14(%r15)            # DeviceFeaturesSel = 1
  mov $4, %ebx
  testl $1, 0x10(%r15)           # VIRTIO_F_VERSION_1 offered
  jz fail
  movl $0, 0x24(%r15)
  movl $0, 0x20(%r15)            # no device-specific features
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
  mov $7, %ebx
  cmpl $1, 0x44(%r15)
  jne fail
  movl $15, 0x70(%r15)           # DRIVER_OK
  mov $8, %ebx
  cmpq $16, 0x100(%r15)          # capacity: at least 16 sectors
  jb fail

  # The pattern: DATA[i] = 7 * i + 3.
  xor %ecx, %ecx
1:mov %ecx, %eax
  imul $7, %eax
  add $3, %eax
  mov %al, DATA(%rcx)
  inc %ecx
  cmp $BYTES, %ecx
  jb 1b

  # Request 1: OUT, sector 1. Descriptors: header (16, NEXT 1), data (2048, NEXT 2), status (1, WRITE).
  movl $1, HDR
  movl $0, HDR+4
  movq $1, HDR+8
  movq $HDR, DESC+0
  movl $16, DESC+8
  movw $1, DESC+12
  movw $1, DESC+14
  movq $DATA, DESC+16
  movl $BYTES, DESC+24
  movw $1, DESC+28
  movw $2, DESC+30
  movq $STATUS, DESC+32
  movl $1, DESC+40
  movw $2, DESC+44
  movw $0, DESC+46
  movb $0xff, STATUS
  movw $0, AVAIL+4               # ring[0] = head 0
  movw $1, AVAIL+2               # avail idx = 1 (x86 keeps the stores in order)
  movl $0, 0x50(%r15)            # QueueNotify
  mov $1, %eax
  call wait_used
  mov $9, %ebx
  cmpb $0, STATUS
  jne fail

  # Request 2: IN, sector 1, into RDATA (device-writable).
  movl $0, HDR
  movq $RDATA, DESC+16
  movw $3, DESC+28               # NEXT | WRITE
  movb $0xff, STATUS
  movw $0, AVAIL+6               # ring[1] = head 0
  movw $2, AVAIL+2
  movl $0, 0x50(%r15)
  mov $2, %eax
  call wait_used
  mov $10, %ebx
  cmpb $0, STATUS
  jne fail
  mov $11, %ebx
  mov $DATA, %esi
  mov $RDATA, %edi
  mov $BYTES, %ecx
  cld
  repe cmpsb
  jne fail

  # Request 3: FLUSH. Header (NEXT 2), status.
  movl $4, HDR
  movw $2, DESC+14
  movb $0xff, STATUS
  movw $0, AVAIL+8
  movw $3, AVAIL+2
  movl $0, 0x50(%r15)
  mov $3, %eax
  call wait_used
  mov $12, %ebx
  cmpb $0, STATUS
  jne fail

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

# Polls the used ring until its index reaches %ax (the device answers from its I/O thread, after an
# fdatasync for each write: this driver does not negotiate FLUSH). Gives up after 2^28 polls with
# check 13.
wait_used:
  mov $0x10000000, %ecx
4:cmpw %ax, USED+2
  je 5f
  pause
  dec %ecx
  jnz 4b
  mov $13, %ebx
  jmp fail
5:ret

message:
  .asciz "virtio-blk: wrote, read back and flushed 4 sectors\n"
