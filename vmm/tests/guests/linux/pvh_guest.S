# pvh_guest: a vmlinux-shaped ELF64 with a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY, 8-byte
# descriptor), for `hvctl run --kernel` (issue #21). hvkit enters _start in 32-bit protected mode
# with paging off and %ebx = hvm_start_info. The guest checks what the loader handed over and ends
# through debug-exit (port 0x501): 0 when every check passed, else the number of the failed check:
#   1 the start info's magic is not 0x336ec578      6 the memory map is not the 3 entries for 64 MiB
#   2 its version is below 1                        7 no "_MP_" floating pointer at 0x9fc00, or its
#   3 the command line differs from CMDLINE           checksum is wrong
#   4 not exactly one module, or it is not          8 no "PCMP" table where it points, or its
#     page-aligned above this image                   checksum is wrong
#   5 the module's size or bytes differ from initrd.txt
# On success it prints "pvh ok cpus=N hv=SIGNATURE[ apic][ x2apic][ kvmclock]": N processor entries
# in the MP table, the hypervisor CPUID leaf 0x40000000's signature and the LAPIC (leaf 1 EDX 9),
# x2APIC (leaf 1 ECX 21) and kvm-clock (leaf 0x40000001 EAX 3) bits; the host test checks them.
  .set RAM_END, 64 << 20
  .set MPTABLE, 0x9fc00

  .section .note.Xen, "a", @note
  .balign 4
  .long 4, 8, 18                # namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .quad _start

  .text
  .code32
  .globl _start
_start:
  cli
  mov $0x8000, %esp
  mov %ebx, %ebp                # hvm_start_info
  mov $1, %eax
  cmpl $0x336ec578, 0(%ebp)
  jne fail
  mov $2, %eax
  cmpl $1, 4(%ebp)
  jb fail
  # 3: the command line, byte for byte with its NUL
  mov 24(%ebp), %esi
  mov $cmdline, %edi
  mov $cmdline_end - cmdline, %ecx
  repe cmpsb
  mov $3, %eax
  jne fail
  # 4, 5: one module, page-aligned above this image, holding initrd.txt
  mov $4, %eax
  cmpl $1, 12(%ebp)
  jne fail
  mov 16(%ebp), %ebx            # the module list
  mov 0(%ebx), %esi
  test $0xfff, %esi
  jnz fail
  cmp $image_end, %esi
  jb fail
  mov $5, %eax
  cmpl $initrd_end - initrd, 8(%ebx)
  jne fail
  mov $initrd, %edi
  mov $initrd_end - initrd, %ecx
  repe cmpsb
  jne fail
  # 6: the memory map: RAM below 0x9fc00, reserved to 1 MiB, RAM from 1 MiB to the end
  mov $6, %eax
  cmpl $3, 48(%ebp)
  jne fail
  mov 40(%ebp), %ebx
  cmpl $0, 0(%ebx)
  jne fail
  cmpl $0x9fc00, 8(%ebx)
  jne fail
  cmpl $1, 16(%ebx)
  jne fail
  cmpl $2, 24+16(%ebx)
  jne fail
  cmpl $0x100000, 48(%ebx)
  jne fail
  cmpl $RAM_END - 0x100000, 48+8(%ebx)
  jne fail
  cmpl $1, 48+16(%ebx)
  jne fail
  # 7: the floating pointer
  mov $7, %eax
  cmpl $0x5f504d5f, MPTABLE     # "_MP_"
  jne fail
  mov $MPTABLE, %esi
  mov $16, %ecx
  call sum
  jnz fail
  # 8: the configuration table
  mov $8, %eax
  mov MPTABLE+4, %esi
  cmpl $0x504d4350, (%esi)      # "PCMP"
  jne fail
  movzwl 4(%esi), %ecx
  call sum
  jnz fail
  # the processor entries: type 0, 20 bytes each, first after the 44-byte header
  lea 44(%esi), %esi
  xor %edx, %edx
1:cmpb $0, (%esi)
  jne 2f
  inc %edx
  add $20, %esi
  jmp 1b
2:mov $ok, %esi
  call puts
  mov %edx, %eax
  add $'0', %al
  call putc
  mov $hv, %esi
  call puts
  mov $0x40000000, %eax
  xor %ecx, %ecx
  cpuid
  mov %ebx, signature
  mov %ecx, signature+4
  mov %edx, signature+8
  mov $signature, %esi
  call puts
  mov $1, %eax
  cpuid
  push %ecx
  test $(1 << 9), %edx
  jz 3f
  mov $apic, %esi
  call puts
3:pop %ecx
  test $(1 << 21), %ecx
  jz 4f
  mov $x2apic, %esi
  call puts
4:mov $0x40000001, %eax
  cpuid
  test $(1 << 3), %eax
  jz 5f
  mov $kvmclock, %esi
  call puts
5:mov $newline, %esi
  call puts
  xor %eax, %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt

fail:
  push %eax
  mov $failed, %esi
  call puts
  pop %eax
  push %eax
  add $'0', %al
  call putc
  mov $newline, %esi
  call puts
  pop %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt

# ZF set when the %ecx bytes (at least one) at %esi sum to 0 modulo 256.
sum:
  push %esi
  push %ecx
  xor %al, %al
1:add (%esi), %al
  inc %esi
  dec %ecx
  jnz 1b
  pop %ecx
  pop %esi
  test %al, %al
  ret

putc:
  push %edx
  mov $0x3f8, %dx
  out %al, (%dx)
  pop %edx
  ret
puts:
  lodsb
  test %al, %al
  jz 1f
  call putc
  jmp puts
1:ret

cmdline: .asciz "console=ttyS0 hvkit-test=pvh"
cmdline_end:
initrd: .incbin "initrd.txt"
initrd_end:
ok: .asciz "pvh ok cpus="
hv: .asciz " hv="
apic: .asciz " apic"
x2apic: .asciz " x2apic"
kvmclock: .asciz " kvmclock"
failed: .asciz "pvh check "
newline: .asciz "\r\n"
signature: .space 13
image_end:
