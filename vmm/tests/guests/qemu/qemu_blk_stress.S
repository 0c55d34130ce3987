# qemu_blk_stress: a virtio-blk stress driver for QEMU's microvm machine, the guest side of the
# crash-and-reconnect test (issue #15, qemu_blk_reconnect.sh). Like qemu_virtio_blk.S (see there for
# the boot: ELF32 with a Xen PVH entry note, 32-bit protected mode, paging off, plain integer
# instructions) it scans the microvm virtio-mmio slots for a virtio-blk device with transport
# version 2, but it negotiates VIRTIO_F_VERSION_1 only, so queue 0 is a split ring (the ring layout
# INFLIGHT_SHMFD tracks), QSIZE entries.
#
# What it does: INFLIGHT "slots" keep one request each in flight all the time, so a backend killed
# at any moment leaves requests in flight. Slot j owns sectors j+1, j+1+INFLIGHT, ... up to SECTORS
# (disjoint sets, so requests in flight never overlap). For round r = 1..ROUNDS a slot writes each of
# its sectors with pattern(r, s), reads it back into a poisoned buffer and compares; after the last
# round it reads every one of its sectors once more and compares with pattern(ROUNDS, s). Dword i of
# pattern(r, s) is r << 24 | s << 8 | i, so a lost write (an older round's data), a misplaced one
# (another sector's) and a read that did not happen (the poison) all differ. Completions are taken
# from the used ring in order, several per notification; a used element must name the head of a
# chain that is in flight (else check 10 or 11: a request completed twice, or one never made).
# It polls (no interrupts; VIRTQ_AVAIL_F_NO_INTERRUPT set) and does not notify again while it waits:
# after a backend crash it is the frontend's reconnect that has to get the ring going again.
#
# The driver itself (everything after the device's setup) is in ../blk_stress_core.inc, shared with
# the hvctl guest virtio_blk_stress.S.
#
# Build-time parameters (as --defsym NAME=VALUE): INFLIGHT (default 8, at most QSIZE / 3), SECTORS
# (default 256, at least INFLIGHT, at most 2047: the host's image is 1 MiB), ROUNDS (default 8, at
# most 254).
#
# Output on the UART at 0x3f8 (numbers in hexadecimal, 8 digits):
#   qemu-blk-stress: virtio-blk at 0xADDRESS, split ring, in flight N, sectors 1..N, rounds N
#   qemu-blk-stress: N requests done            (every 1024 completions)
#   qemu-blk-stress: ok, N requests             (or: qemu-blk-stress: check NN failed)
# The result goes to isa-debug-exit at port 0xf4 (iosize 4): 0 for success, else the number of the
# failed check (QEMU exits with (value << 1) | 1):
#    1 no virtio-blk device in any slot       9 no completion within 2^32 polls
#    2 transport version is not 2            10 a used element names no chain head
#    3 reset did not complete                11 a used element names a chain not in flight
#    4 VERSION_1 not offered                 12 a write failed (status not 0)
#    5 FEATURES_OK not kept                  13 a read failed (status not 0)
#    6 QueueNumMax below QSIZE               14 a read-back differs from what was written
#    7 QueueReady does not read back 1       15 the final read of a sector differs from
#    8 capacity below SECTORS + 1 sectors       pattern(ROUNDS, s)
  .set SLOT0,    0xfeb00000
  .set SLOTS,    24
  .set EXIT_PORT, 0xf4          # isa-debug-exit (iosize 4)

  .section .note.Xen, "a", @note
  .balign 4
  .long 4, 4, 18                # namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .long _start

  .text
  .code32
  .include "blk_stress_core.inc"  # the driver (INFLIGHT, SECTORS, ROUNDS and the layout come from it)
  .globl _start
_start:
  cli
  cld
  mov $STACK, %esp
  mov $DESC, %edi               # rings, records, buffers and variables start zeroed
  mov $(CLEAR_END - DESC) / 4, %ecx
  xor %eax, %eax
  rep stosl

  mov $1, %ebx
  mov $SLOT0, %esi
  mov $SLOTS, %ecx
1:cmpl $0x74726976, 0x00(%esi)  # "virt"
  jne 2f
  cmpl $2, 0x08(%esi)           # DeviceID 2: block
  je 3f
2:add $0x200, %esi
  loop 1b
  jmp fail
3:mov %esi, %ebp                # %ebp: the device's registers from here on
  mov $2, %ebx
  cmpl $2, 0x04(%ebp)           # Version 2 (virtio 1.x), not legacy
  jne fail
  movl $0, 0x70(%ebp)           # reset, and wait for Status to read 0
  mov $3, %ebx
  mov $0x1000000, %ecx
4:cmpl $0, 0x70(%ebp)
  je 5f
  dec %ecx
  jnz 4b
  jmp fail
5:movl $1, 0x70(%ebp)           # ACKNOWLEDGE
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
  cmpl $QSIZE, 0x34(%ebp)       # QueueNumMax (0: no such queue)
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
  jne 6f
  cmpl $SECTORS, 0x100(%ebp)
  jbe fail
6:
  jmp stress_start

found_message:
  .asciz "qemu-blk-stress: virtio-blk at 0x"
prefix:
  .asciz "qemu-blk-stress: "
