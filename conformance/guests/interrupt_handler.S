# interrupt_handler — see docs/conformance.md
# Installs an IDT gate for vector 0x40, enables the local APIC, reports "ready" (0x11), then waits with
# interrupts enabled. The handler reports the vector (0x40) and acknowledges it with an EOI.
  .include "guest.inc"
  .set IDT, SCRATCH + 0x1000
  .set VECTOR, 0x40
  .set LAPIC, 0xfee00000
  .code64
  .globl _start
_start:
  load_idt_with_gate IDT, VECTOR, handler
  mov $LAPIC, %esi
  movl $0x1ff, 0xf0(%rsi)      # spurious-interrupt vector register: APIC software-enabled
  movl $0, 0x80(%rsi)          # task priority 0: accept every vector
  mov $0x11, %al
  out %al, $REPORT_PORT        # ready: the VMM raises the interrupt now
  sti
1:
  hlt
  jmp 1b
handler:
  mov $VECTOR, %al
  out %al, $REPORT_PORT
  mov $LAPIC, %esi
  movl $0, 0xb0(%rsi)          # EOI
  iretq
