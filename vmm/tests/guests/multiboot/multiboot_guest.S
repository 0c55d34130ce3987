# A Multiboot (version 1) test kernel, ELF32, linked at 0x200000 (see vmm/tests/CMakeLists.txt).
# It checks what the loader handed over and reports through QEMU's isa-debug-exit at 0xf4: a write of
# 0 means every check passed (hvctl exits 1), a write of n names the check that failed (hvctl exits
# 2n + 1). The test runs it with --memory 16, --cmdline "mbtest 42" and --module module.txt.
#   1: EAX is not 0x2BADB002        2: the info flags lack memory, cmdline or modules
#   3: mem_lower is not 639 KiB     4: mem_upper is not 15360 KiB (16 MiB - 1 MiB)
#   5: not exactly one module       6: the module's bytes differ from module.txt
#   7: the command line's arguments (after the image's name) are not "mbtest 42"
#   8: the bss is not zero          9: paging is on
#  10: masking the PICs (ports 0x21, 0xa1) or probing PCI configuration (0xcf8/0xcfc) did not go on,
#      or the probe did not read all-ones (no PCI bus), as kvm-unit-tests does at start-up
# It prints "cmdline=<the command line>" and "module=<the module's string>" on the UART.
	.code32
	.set MB_MAGIC, 0x1BADB002
	.set MB_FLAGS, 0x3
	.set UART, 0x3f8
	.set EXIT_PORT, 0xf4

	.section .text
	.globl _start
	.align 4
multiboot_header:
	.long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

_start:
	mov $stack_top, %esp
	mov $1, %ecx
	cmp $0x2BADB002, %eax
	jne fail
	mov %ebx, %esi                  # the information block
	mov $9, %ecx
	mov %cr0, %eax
	test $0x80000000, %eax          # paging must be off
	jnz fail
	mov $2, %ecx
	mov (%esi), %eax
	and $0xd, %eax                  # bits 0 (memory), 2 (cmdline), 3 (modules)
	cmp $0xd, %eax
	jne fail
	mov $3, %ecx
	cmpl $639, 4(%esi)
	jne fail
	mov $4, %ecx
	cmpl $15360, 8(%esi)
	jne fail
	# print the command line
	mov $cmdline_label, %edi
	call puts
	mov 16(%esi), %edi
	call puts
	mov $newline, %edi
	call puts
	mov $5, %ecx
	cmpl $1, 20(%esi)
	jne fail
	mov 24(%esi), %ebp              # the module list
	mov $module_label, %edi
	call puts
	mov 8(%ebp), %edi
	call puts
	mov $newline, %edi
	call puts
	mov $6, %ecx
	mov 4(%ebp), %eax
	sub 0(%ebp), %eax
	cmp $(expected_module_end - expected_module), %eax
	jne fail
	push %ecx
	push %esi
	mov 0(%ebp), %esi
	mov $expected_module, %edi
	mov %eax, %ecx
	cld
	repe cmpsb
	pop %esi
	pop %ecx
	jne fail
	mov $7, %ecx
	mov 16(%esi), %edi              # skip the image's name up to the first space
1:	movb (%edi), %al
	test %al, %al
	jz fail
	inc %edi
	cmp $' ', %al
	jne 1b
	push %ecx
	push %esi
	mov %edi, %esi
	mov $expected_args, %edi
	mov $(expected_args_end - expected_args), %ecx   # includes the NUL
	repe cmpsb
	pop %esi
	pop %ecx
	jne fail
	mov $8, %ecx
	cmpl $0, bss_word
	jne fail
	cmpl $0, bss_word + 4092
	jne fail
	mov $10, %ecx
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xcf8, %dx
	mov $0x80000000, %eax
	outl %eax, %dx
	mov $0xcfc, %dx
	inl %dx, %eax
	cmp $0xffffffff, %eax
	jne fail
	xor %ecx, %ecx
fail:
	mov %ecx, %eax
	mov $EXIT_PORT, %dx
	outl %eax, %dx
2:	hlt
	jmp 2b

# puts: writes the NUL-terminated string at %edi to the UART.
puts:
	push %eax
	push %edx
3:	movb (%edi), %al
	test %al, %al
	jz 5f
	mov $(UART + 5), %dx
4:	push %eax
	in %dx, %al
	test $0x20, %al
	pop %eax
	jz 4b
	mov $UART, %dx
	out %al, %dx
	inc %edi
	jmp 3b
5:	pop %edx
	pop %eax
	ret

	.section .rodata
cmdline_label:	.asciz "cmdline="
module_label:	.asciz "module="
newline:	.asciz "\n"
expected_args:	.asciz "mbtest 42"
expected_args_end:
expected_module:	.ascii "hvkit multiboot module\n"
expected_module_end:

	.section .bss
	.align 4096
bss_word:	.skip 4096
	.skip 4096
stack_top:
