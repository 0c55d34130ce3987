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
  lea handler(%rip), %rax
  mov $(IDT + VECTOR * 16), %edi
  mov %ax, (%rdi)              # offset 15:0
  movw $0x08, 2(%rdi)          # 64-bit code selector
  movw $0x8e00, 4(%rdi)        # present, DPL 0, 64-bit interrupt gate
  shr $16, %rax
  mov %ax, 6(%rdi)             # offset 31:16
  shr $16, %rax
  mov %eax, 8(%rdi)            # offset 63:32
  movl $0, 12(%rdi)
  lidt idtr(%rip)
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
idtr:
  .word 256 * 16 - 1
  .quad IDT
