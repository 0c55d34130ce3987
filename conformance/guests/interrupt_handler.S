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
idtr:
  .word 256 * 16 - 1
  .quad IDT
