# virtio_blk_stress: the crash-and-reconnect guest for hvctl (issue #15, run_vhost_user_blk_reconnect.sh):
# the stress driver of blk_stress_core.inc (INFLIGHT requests always in flight over a split ring of
# QSIZE entries, every sector of 1..SECTORS written, read back and compared for ROUNDS rounds, then
# read once more; every used element checked against what is in flight) on the virtio-blk device in
# hvctl's first virtio-mmio window. A raw long-mode image (hvctl run --load 0x1000), entered at its
# first byte. It polls and notifies only when it made a chain available: after a backend crash it is
# hvctl's reconnect that gets the ring going again.
#
# Output on the UART (hexadecimal, 8 digits), as qemu_blk_stress with the prefix "blk-stress: ":
#   blk-stress: virtio-blk at 0xd0000000, split ring, in flight N, sectors 1..N, rounds N
#   blk-stress: N requests done            (every 1024 completions)
#   blk-stress: ok, N requests             (or: blk-stress: check NN failed)
# The result goes to debug-exit (port 0x501): 0, or the failed check:
#    1 no virtio-mmio device at 0xd0000000    2 transport version is not 2
#    3 not a block device                     4 VERSION_1 not offered
#    5 FEATURES_OK not kept                   6 QueueNumMax below QSIZE
#    7 QueueReady does not read back 1        8 capacity below SECTORS + 1 sectors
#    9..15 as in qemu_blk_stress.S (no completion, a used element naming no chain or one not in
#          flight, a failed write or read, a read-back or final read that differs)
  .code64
  .set EXIT_PORT, 0x501
  .set BASE, 0xd0000000
  .globl _start
_start:
  jmp main
  .include "blk_stress_core.inc"

main:
  cld
  mov $DESC, %edi               # rings, records, buffers and variables start zeroed
  mov $(CLEAR_END - DESC) / 4, %ecx
  xor %eax, %eax
  rep stosl
  mov $BASE, %ebp               # %ebp: the device's registers from here on
  mov $1, %ebx
  cmpl $0x74726976, 0x00(%ebp)  # "virt"
  jne fail
  mov $2, %ebx
  cmpl $2, 0x04(%ebp)           # Version 2
  jne fail
  mov $3, %ebx
  cmpl $2, 0x08(%ebp)           # DeviceID 2: block
  jne fail
  movl $0, 0x70(%ebp)           # reset
  movl $1, 0x70(%ebp)           # ACKNOWLEDGE
  movl $3, 0x70(%ebp)           # DRIVER
  movl $1, 0x14(%ebp)           # DeviceFeaturesSel 1: bits 32..63
  mov $4, %ebx
  testl $1, 0x10(%ebp)          # VIRTIO_F_VERSION_1 (bit 32)
  jz fail
  movl $0, 0x24(%ebp)           # no feature in bits 0..31
  movl $0, 0x20(%ebp)
  movl $1, 0x24(%ebp)           # VERSION_1 only: a split ring
  movl $1, 0x20(%ebp)
  movl $11, 0x70(%ebp)          # FEATURES_OK
  mov $5, %ebx
  testl $8, 0x70(%ebp)
  jz fail
  movl $0, 0x30(%ebp)           # QueueSel 0
  mov $6, %ebx
  cmpl $QSIZE, 0x34(%ebp)       # QueueNumMax
  jb fail
  movl $QSIZE, 0x38(%ebp)
  movl $DESC, 0x80(%ebp)
  movl $0, 0x84(%ebp)
  movl $AVAIL, 0x90(%ebp)
  movl $0, 0x94(%ebp)
  movl $USED, 0xa0(%ebp)
  movl $0, 0xa4(%ebp)
  movw $1, AVAIL                # VIRTQ_AVAIL_F_NO_INTERRUPT: it polls
  movl $1, 0x44(%ebp)           # QueueReady
  mov $7, %ebx
  cmpl $1, 0x44(%ebp)
  jne fail
  movl $15, 0x70(%ebp)          # DRIVER_OK
  mov $8, %ebx
  cmpl $0, 0x104(%ebp)          # capacity (64-bit, in 512-byte sectors) > SECTORS
  jne 1f
  cmpl $SECTORS, 0x100(%ebp)
  jbe fail
1:jmp stress_start

found_message:
  .asciz "blk-stress: virtio-blk at 0x"
prefix:
  .asciz "blk-stress: "
