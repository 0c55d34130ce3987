# virtio_i2c: the virtio-i2c guest for hvctl (issue #16, run_vhost_user_i2c.sh): the driver and
# scenario of i2c_core.inc (see there: what it does, its output, its checks, and what the two
# EEPROMs' files hold afterwards) on the virtio-i2c device in hvctl's first virtio-mmio window
# (hvctl run --vhost-user-i2c SOCKET). A raw long-mode image (hvctl run --load 0x1000), entered at its
# first byte. Success is "virtio-i2c: probe, read-back, wrap, groups, batch, malformed, reset: ok" on
# the UART and 0 to debug-exit (port 0x501); a failure writes the failed check's number there.
  .code64
  .set EXIT_PORT, 0x501
  .set BASE, 0xd0000000
  .globl _start
_start:
  jmp main
  .include "i2c_core.inc"

main:
  cld
  mov $BASE, %ebp               # %ebp: the device's registers from here on
  mov $1, %ebx
  cmpl $0x74726976, 0x00(%ebp)  # "virt"
  jne fail
  cmpl $34, 0x08(%ebp)          # DeviceID 34: I2C adapter
  jne fail
  mov $2, %ebx
  cmpl $2, 0x04(%ebp)           # Version 2
  jne fail
  jmp i2c_start

found_message:
  .asciz "virtio-i2c: virtio-i2c at 0x"
prefix:
  .asciz "virtio-i2c: "
