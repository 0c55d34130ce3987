# bzimage_guest: a bzImage-shaped file for `hvctl run --kernel` (issue #21): one setup sector after
# the boot sector with a boot protocol 2.15 header (relocatable, XLF_KERNEL_64, pref_address 1 MiB,
# initrd_addr_max 48 MiB - 1, cmdline_size 255), then the "protected-mode kernel", whose 64-bit entry
# is 0x200 bytes in. Assembled as one position-independent section and copied out with objcopy.
# hvkit enters kernel64 in long mode with %rsi = boot_params. The guest checks what the loader handed
# over and ends through debug-exit (port 0x501): 0 when every check passed, else the check's number:
#   1 the entry is not at 0x100200 (the kernel was not loaded at pref_address)
#   2 no "HdrS" in boot_params' copy of the setup header, or type_of_loader is not 0xff
#   3 the command line differs from CMDLINE
#   4 the initrd is not page-aligned, or it ends above initrd_addr_max
#   5 the initrd's size or bytes differ from initrd.txt
#   6 the e820 map is not the 3 entries for 64 MiB
# On success it prints "bzimage ok".
  .set RAM_END, 64 << 20
  .set INITRD_ADDR_MAX, (48 << 20) - 1

  .text
  .code16
boot_sector:
  .org 0x1f1
  .byte 1                       # setup_sects: one sector of setup after the boot sector
  .word 0, 0, 0, 0              # root_flags, syssize (2 words), ram_size
  .word 0, 0                    # vid_mode, root_dev
  .word 0xaa55                  # boot_flag
  .byte 0xeb, header_end - boot_sector - 0x202  # jump over the header: its length
  .ascii "HdrS"                 # 0x202
  .word 0x020f                  # version 2.15
  .long 0                       # realmode_swtch
  .word 0, 0                    # start_sys_seg, kernel_version
  .byte 0                       # type_of_loader (0x210)
  .byte 0x01                    # loadflags: LOADED_HIGH
  .word 0                       # setup_move_size
  .long 0x100000                # code32_start (0x214)
  .long 0, 0                    # ramdisk_image, ramdisk_size
  .long 0                       # bootsect_kludge
  .word 0, 0                    # heap_end_ptr, ext_loader_ver/type
  .long 0                       # cmd_line_ptr (0x228)
  .long INITRD_ADDR_MAX         # initrd_addr_max (0x22c)
  .long 0x100000                # kernel_alignment (0x230)
  .byte 1, 0                    # relocatable_kernel, min_alignment
  .word 0x0001                  # xloadflags: XLF_KERNEL_64 (0x236)
  .long 255                     # cmdline_size (0x238)
  .long 0                       # hardware_subarch (0x23c)
  .quad 0                       # hardware_subarch_data
  .long 0, 0                    # payload_offset, payload_length (0x248)
  .quad 0                       # setup_data (0x250)
  .quad 0x100000                # pref_address (0x258)
  .long 0x20000                 # init_size (0x260)
  .long 0                       # handover_offset
  .long 0                       # kernel_info_offset (0x268)
header_end:
  .org 1024                     # (setup_sects + 1) * 512: the protected-mode kernel starts here
kernel:
  hlt                           # the 32-bit entry, unused by a 64-bit loader
  .org kernel + 0x200
  .code64
kernel64:
  mov %rsi, %rbp                # boot_params
  mov $1, %eax
  lea kernel64(%rip), %rcx
  cmp $0x100200, %rcx
  jne fail
  mov $2, %eax
  cmpl $0x53726448, 0x202(%rbp)
  jne fail
  cmpb $0xff, 0x210(%rbp)
  jne fail
  mov $3, %eax
  mov 0x228(%rbp), %esi
  lea cmdline(%rip), %rdi
  mov $cmdline_end - cmdline, %ecx
  repe cmpsb
  jne fail
  mov $4, %eax
  mov 0x218(%rbp), %esi
  test $0xfff, %esi
  jnz fail
  mov %esi, %ecx
  add 0x21c(%rbp), %ecx
  cmp $INITRD_ADDR_MAX + 1, %ecx
  ja fail
  mov $5, %eax
  cmpl $initrd_end - initrd, 0x21c(%rbp)
  jne fail
  lea initrd(%rip), %rdi
  mov $initrd_end - initrd, %ecx
  repe cmpsb
  jne fail
  mov $6, %eax
  cmpb $3, 0x1e8(%rbp)
  jne fail
  lea 0x2d0(%rbp), %rbx         # e820_table: 20-byte entries
  cmpq $0, 0(%rbx)
  jne fail
  cmpq $0x9fc00, 8(%rbx)
  jne fail
  cmpl $1, 16(%rbx)
  jne fail
  cmpl $2, 20+16(%rbx)
  jne fail
  cmpq $0x100000, 40(%rbx)
  jne fail
  cmpq $RAM_END - 0x100000, 40+8(%rbx)
  jne fail
  cmpl $1, 40+16(%rbx)
  jne fail
  lea ok(%rip), %rsi
  call puts
  xor %eax, %eax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt

fail:
  push %rax
  lea failed(%rip), %rsi
  call puts
  mov (%rsp), %rax
  add $'0', %al
  mov $0x3f8, %dx
  out %al, (%dx)
  lea newline(%rip), %rsi
  call puts
  pop %rax
  mov $0x501, %dx
  out %eax, (%dx)
  hlt

puts:
  mov $0x3f8, %dx
1:lodsb
  test %al, %al
  jz 2f
  out %al, (%dx)
  jmp 1b
2:ret

cmdline: .asciz "console=ttyS0 hvkit-test=bzimage"
cmdline_end:
initrd: .incbin "initrd.txt"
initrd_end:
ok: .asciz "bzimage ok\r\n"
failed: .asciz "bzimage check "
newline: .asciz "\r\n"
