# string_io_across_pages — see docs/conformance.md
# REP INSW and REP OUTSW over buffers that cross a page boundary, with one element straddling it.
  .include "guest.inc"
  .code64
  .globl _start
_start:
  cld
  mov $(SCRATCH + 0x1000 - 3), %edi
  mov $4, %ecx
  mov $0x60, %dx
  rep insw
  mov $(SCRATCH + 0x2000 - 3), %esi
  mov $4, %ecx
  mov $0x61, %dx
  rep outsw
  hlt
