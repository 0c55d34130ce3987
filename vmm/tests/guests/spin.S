# spin: an hvctl run test guest (see vmm/tests/CMakeLists.txt): prints "R" (it is running), then
# loops forever without an exit; only the VMM can end it (a timeout, a signal).
  .code64
  .globl _start
_start:
  mov $0x3f8, %dx
  mov $'R', %al
  out %al, (%dx)
1:
  jmp 1b
