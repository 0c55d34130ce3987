# injected_interrupt — see docs/conformance.md
# Installs an IDT gate for vector 0x41, masks interrupts (CLI), reports "ready" (0x12) and halts. An
# interrupt the VMM injects as vCPU state is delivered on the next entry whatever IF is: the handler
# reports the vector (0x41) and returns to a final HLT. Without the injection the guest just halts.
  .include "guest.inc"
  .set IDT, SCRATCH + 0x1000
  .set VECTOR, 0x41
  .code64
  .globl _start
_start:
  load_idt_with_gate IDT, VECTOR, handler
  cli
  mov $0x12, %al
  out %al, $REPORT_PORT        # ready: the VMM injects the interrupt now
1:
  hlt                          # the handler returns here (or to the JMP, if this HLT already exited)
  jmp 1b
handler:
  mov $VECTOR, %al
  out %al, $REPORT_PORT
  iretq
