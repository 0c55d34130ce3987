# mmio_movs_between_devices — see docs/conformance.md
# MOVS with both operands on devices: MOVSL once, then REP MOVSW for three elements; each element is
# a read of the source register then a write of the destination.
  .include "guest.inc"
  .code64
  .globl _start
_start:
  cld
  mov $MMIO_WINDOW, %esi
  mov $(MMIO_WINDOW + 0x100), %edi
  movsl
  mov $3, %ecx
  rep movsw
  hlt
