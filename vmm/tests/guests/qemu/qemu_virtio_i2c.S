# qemu_virtio_i2c: the virtio-i2c guest for QEMU's microvm machine (issue #16,
# qemu_vhost_user_i2c.sh: QEMU's -device vhost-user-i2c-device as the frontend, hvkit-vhost-user-i2c
# as the backend). Like qemu_virtio_blk.S (see there for the boot: ELF32 with a Xen PVH entry note,
# 32-bit protected mode, paging off, plain integer instructions) it scans the microvm virtio-mmio
# slots for the device, here DeviceID 34 with transport version 2; then it runs the driver and
# scenario of ../i2c_core.inc (see there: what it does, its output, its checks, and what the two
# EEPROMs' files hold afterwards).
#
# Output on the UART at 0x3f8: "qemu-virtio-i2c: virtio-i2c at 0x..., queue size ... (QueueNumMax
# ...)", then
# "qemu-virtio-i2c: probe, read-back, wrap, groups, batch, malformed, reset: ok" or
# "qemu-virtio-i2c: check N failed (...)". The result goes to isa-debug-exit at port 0xf4 (iosize 4):
# 0 for success, else the failed check (QEMU exits with (value << 1) | 1).
  .set SLOT0,    0xfeb00000
  .set SLOTS,    24
  .set STACK,    0x1ff000
  .set EXIT_PORT, 0xf4          # isa-debug-exit (iosize 4)

  .section .note.Xen, "a", @note
  .balign 4
  .long 4, 4, 18                # namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .long _start

  .text
  .code32
  .include "i2c_core.inc"       # the driver and the scenario (the layout comes from it)
  .globl _start
_start:
  cli
  cld
  mov $STACK, %esp
  mov $1, %ebx
  mov $SLOT0, %esi
  mov $SLOTS, %ecx
1:cmpl $0x74726976, 0x00(%esi)  # "virt"
  jne 2f
  cmpl $34, 0x08(%esi)          # DeviceID 34: I2C adapter
  je 3f
2:add $0x200, %esi
  loop 1b
  jmp fail
3:mov %esi, %ebp                # %ebp: the device's registers from here on
  mov $2, %ebx
  cmpl $2, 0x04(%ebp)           # Version 2 (virtio 1.x), not legacy
  jne fail
  jmp i2c_start

found_message:
  .asciz "qemu-virtio-i2c: virtio-i2c at 0x"
prefix:
  .asciz "qemu-virtio-i2c: "
