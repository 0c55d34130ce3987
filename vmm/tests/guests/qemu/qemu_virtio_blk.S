# qemu_virtio_blk: a virtio-blk driver for QEMU's microvm machine, the guest side of the vhost-user
# interop test (issue #15). It is not one of hvctl's guests: it is an ELF32 image with a Xen PVH
# entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18), so `qemu-system-x86_64 -M microvm -kernel` enters
# _start in 32-bit protected mode with paging off (flat segments, %ebx = hvm_start_info, unused).
# It stays in that mode and uses nothing but plain integer instructions and port/MMIO accesses.
#
# What it does: scans the microvm virtio-mmio slots (0xfeb00000 + 0x200 * i; 8 slots, or 24 with a
# second IOAPIC; QEMU fills the last slot first) for MagicValue "virt" with DeviceID 2, requires
# transport version 2 (QEMU 7.2 needs -global virtio-mmio.force-legacy=false), resets the device,
# negotiates VERSION_1, VIRTIO_BLK_F_FLUSH if offered and VIRTIO_F_RING_PACKED if offered (then
# queue 0 is a packed ring, virtio 1.2 §2.8; otherwise a split ring, §2.7), 8 entries. Then it
# writes sectors 1..4 with byte i = 7 * i + 3, reads them back and compares, flushes (if
# negotiated), reads sector 0 and compares it with byte i = 13 * i + 5 (which the host test put
# there: proof that the device reads the host's file). It polls for completions (no interrupts).
#
# Output on the UART at 0x3f8: a line naming the device and the ring layout, then
# "qemu-virtio-blk: split ok" or "qemu-virtio-blk: packed ok" — or "qemu-virtio-blk: check N
# failed". The result goes to isa-debug-exit at port 0xf4 (iosize 4): 0 for success, else N, the
# number of the failed check (QEMU exits with (value << 1) | 1: 1 for success):
#    1 no virtio-blk device in any slot      9 a request was not completed (polls exhausted)
#    2 transport version is not 2           10 the write of sectors 1..4 failed
#    3 reset did not complete               11 the read of sectors 1..4 failed
#    4 VERSION_1 not offered                12 sectors 1..4 read back differ from what was written
#    5 FEATURES_OK not kept                 13 the flush failed
#    6 QueueNumMax below 8                  14 the read of sector 0 failed
#    7 QueueReady does not read back 1      15 sector 0 does not hold the host's pattern
#    8 capacity below 5 sectors             16 packed: the used descriptor names the wrong buffer
  .set SLOT0,    0xfeb00000
  .set SLOTS,    24
  .set QSIZE,    8
  .set POLLS,    0x1000000      # per request; the host test's timeout is the real bound
  .set STACK,    0x1ff000
  .set DESC,     0x200000       # descriptor table (split) or descriptor ring (packed)
  .set DRIVER,   0x201000       # available ring (split) or driver event suppression (packed)
  .set DEVICE,   0x202000       # used ring (split) or device event suppression (packed)
  .set HDR,      0x203000       # the request header: type, reserved, sector
  .set STATUS,   0x203100       # the status byte
  .set VARS,     0x203200
  .set PACKED,   VARS+0         # 1 if the packed ring was negotiated
  .set FLUSH,    VARS+4         # 1 if VIRTIO_BLK_F_FLUSH was negotiated
  .set PK_NEXT,  VARS+8         # packed: the next descriptor slot
  .set PK_WRAP,  VARS+12        # packed: AVAIL/USED bits of an available descriptor (0x0080 or 0x8000)
  .set PK_ID,    VARS+16        # packed: the buffer ID of the chain being built (its first slot)
  .set PK_COUNT, VARS+20        # packed: descriptors written in the chain being built
  .set PK_FIRST, VARS+24        # packed: the offset of the chain's first descriptor
  .set PK_FLAGS, VARS+28        # packed: that descriptor's flags, written last
  .set WDATA,    0x204000       # what is written to sectors 1..4
  .set RDATA,    0x205000       # what is read back
  .set BYTES,    2048           # sectors 1..4
  .set F_NEXT,   1
  .set F_WRITE,  2
  .set T_IN,     0
  .set T_OUT,    1
  .set T_FLUSH,  4

  .section .note.Xen, "a", @note
  .balign 4
  .long 4, 4, 18                # namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY
  .asciz "Xen"
  .long _start

  .text
  .code32
  .globl _start
_start:
  cli
  cld
  mov $STACK, %esp
  mov $DESC, %edi               # rings, header and variables start zeroed
  mov $(VARS + 64 - DESC) / 4, %ecx
  xor %eax, %eax
  rep stosl

  mov $1, %ebx
  mov $SLOT0, %esi
  mov $SLOTS, %ecx
1:cmpl $0x74726976, 0x00(%esi)  # "virt"
  jne 2f
  cmpl $2, 0x08(%esi)           # DeviceID 2: block
  je 3f
2:add $0x200, %esi
  loop 1b
  jmp fail
3:mov %esi, %ebp                # %ebp: the device's registers from here on
  mov $2, %ebx
  cmpl $2, 0x04(%ebp)           # Version 2 (virtio 1.x), not legacy
  jne fail
  movl $0, 0x70(%ebp)           # reset, and wait for Status to read 0
  mov $3, %ebx
  mov $POLLS, %ecx
4:cmpl $0, 0x70(%ebp)
  je 5f
  dec %ecx
  jnz 4b
  jmp fail
5:movl $1, 0x70(%ebp)           # ACKNOWLEDGE
  movl $3, 0x70(%ebp)           # DRIVER
  movl $0, 0x14(%ebp)           # DeviceFeaturesSel 0: bits 0..31
  mov 0x10(%ebp), %esi
  and $0x200, %esi              # VIRTIO_BLK_F_FLUSH (bit 9), if offered
  movl $1, 0x14(%ebp)           # DeviceFeaturesSel 1: bits 32..63
  mov 0x10(%ebp), %edi
  mov $4, %ebx
  test $1, %edi                 # VIRTIO_F_VERSION_1 (bit 32)
  jz fail
  and $5, %edi                  # VERSION_1, and RING_PACKED (bit 34) if offered
  movl $0, 0x24(%ebp)
  mov %esi, 0x20(%ebp)
  movl $1, 0x24(%ebp)
  mov %edi, 0x20(%ebp)
  movl $11, 0x70(%ebp)          # FEATURES_OK
  mov $5, %ebx
  testl $8, 0x70(%ebp)
  jz fail
  shr $9, %esi
  mov %esi, FLUSH
  shr $2, %edi
  mov %edi, PACKED
  movl $0x0080, PK_WRAP         # the wrap counters start at 1

  movl $0, 0x30(%ebp)           # QueueSel 0
  mov $6, %ebx
  cmpl $QSIZE, 0x34(%ebp)       # QueueNumMax (0: no such queue)
  jb fail
  movl $QSIZE, 0x38(%ebp)
  movl $DESC, 0x80(%ebp)
  movl $0, 0x84(%ebp)
  movl $DRIVER, 0x90(%ebp)
  movl $0, 0x94(%ebp)
  movl $DEVICE, 0xa0(%ebp)
  movl $0, 0xa4(%ebp)
  movl $1, 0x44(%ebp)           # QueueReady
  mov $7, %ebx
  cmpl $1, 0x44(%ebp)
  jne fail
  movl $15, 0x70(%ebp)          # DRIVER_OK
  mov $8, %ebx
  cmpl $0, 0x104(%ebp)          # capacity (64-bit, in 512-byte sectors) >= 5
  jne 6f
  cmpl $5, 0x100(%ebp)
  jb fail
6:
  mov $found_message, %esi      # "qemu-virtio-blk: virtio-blk at 0x..., split|packed ring, [no ]flush"
  call puts
  mov %ebp, %eax
  call puthex
  mov $split_message, %esi
  cmpl $0, PACKED
  je 7f
  mov $packed_message, %esi
7:call puts
  mov $ring_flush_message, %esi
  cmpl $0, FLUSH
  jne 8f
  mov $ring_no_flush_message, %esi
8:call puts

  xor %ecx, %ecx                # WDATA[i] = 7 * i + 3
1:imul $7, %ecx, %eax
  add $3, %eax
  mov %al, WDATA(%ecx)
  inc %ecx
  cmp $BYTES, %ecx
  jb 1b

  mov $T_OUT, %eax              # write sectors 1..4
  mov $1, %edx
  mov $WDATA, %esi
  mov $BYTES, %ecx
  xor %edi, %edi
  call submit
  mov $10, %ebx
  test %eax, %eax
  jnz fail

  mov $T_IN, %eax               # read them back
  mov $1, %edx
  mov $RDATA, %esi
  mov $BYTES, %ecx
  mov $F_WRITE, %edi
  call submit
  mov $11, %ebx
  test %eax, %eax
  jnz fail
  mov $12, %ebx
  mov $WDATA, %esi
  mov $RDATA, %edi
  mov $BYTES, %ecx
  repe cmpsb
  jne fail

  cmpl $0, FLUSH
  je 2f
  mov $T_FLUSH, %eax            # flush: a header and a status, no data
  xor %edx, %edx
  xor %esi, %esi
  xor %ecx, %ecx
  xor %edi, %edi
  call submit
  mov $13, %ebx
  test %eax, %eax
  jnz fail

2:mov $T_IN, %eax               # read sector 0 (put there by the host)
  xor %edx, %edx
  mov $RDATA, %esi
  mov $512, %ecx
  mov $F_WRITE, %edi
  call submit
  mov $14, %ebx
  test %eax, %eax
  jnz fail
  mov $15, %ebx
  xor %ecx, %ecx                # RDATA[i] == 13 * i + 5
3:imul $13, %ecx, %eax
  add $5, %eax
  cmp %al, RDATA(%ecx)
  jne fail
  inc %ecx
  cmp $512, %ecx
  jb 3b

  mov $result_message, %esi
  call puts
  mov $split_name, %esi
  cmpl $0, PACKED
  je 4f
  mov $packed_name, %esi
4:call puts
  mov $ok_message, %esi
  call puts
  xor %ebx, %ebx
  jmp exit

# fail: reports check %ebx on the UART, then exits with it.
fail:
  mov $result_message, %esi
  call puts
  mov $check_message, %esi
  call puts
  mov %ebx, %eax                # two decimal digits
  mov $10, %cl
  div %cl
  add $0x3030, %ax
  mov %ah, %cl
  mov $0x3f8, %dx
  out %al, (%dx)
  mov %cl, %al
  out %al, (%dx)
  mov $failed_message, %esi
  call puts
exit:
  mov %ebx, %eax
  mov $0xf4, %dx                # isa-debug-exit
  out %eax, (%dx)
9:hlt
  jmp 9b

# submit: one request, waited for. %eax type, %edx sector, %esi data (0: none), %ecx its length,
# %edi its descriptor flags (F_WRITE for a read). Returns the status byte in %eax.
submit:
  mov %eax, HDR
  movl $0, HDR+4
  mov %edx, HDR+8
  movl $0, HDR+12
  movb $0xff, STATUS
  cmpl $0, PACKED
  jne submit_packed
  # Split: descriptors 0 (header), 1 (data, if any) and the status after them.
  movl $HDR, DESC
  movl $0, DESC+4
  movl $16, DESC+8
  movw $F_NEXT, DESC+12
  movw $1, DESC+14
  mov $16, %eax                 # the offset of the status descriptor
  test %esi, %esi
  jz 1f
  mov %esi, DESC+16
  movl $0, DESC+20
  mov %ecx, DESC+24
  or $F_NEXT, %edi
  mov %di, DESC+28
  movw $2, DESC+30
  mov $32, %eax
1:movl $STATUS, DESC(%eax)
  movl $0, DESC+4(%eax)
  movl $1, DESC+8(%eax)
  movw $F_WRITE, DESC+12(%eax)
  movw $0, DESC+14(%eax)
  movzwl DRIVER+2, %eax         # ring[idx % QSIZE] = head 0, then idx + 1 (x86 keeps stores in order)
  mov %eax, %edx
  and $QSIZE-1, %edx
  movw $0, DRIVER+4(,%edx,2)
  inc %eax
  mov %ax, DRIVER+2
  movl $0, 0x50(%ebp)           # QueueNotify: queue 0
  mov $POLLS, %ecx
2:cmpw %ax, DEVICE+2            # the used index reaches ours
  je 3f
  pause
  dec %ecx
  jnz 2b
  mov $9, %ebx
  jmp fail
3:movzbl STATUS, %eax
  ret

# Packed: the chain goes into consecutive slots from PK_NEXT; its first descriptor's flags are
# written last, which is what makes the whole chain available.
submit_packed:
  mov PK_NEXT, %eax
  mov %eax, PK_ID
  movl $0, PK_COUNT
  push %edi
  push %ecx
  mov $HDR, %eax
  mov $16, %ecx
  mov $F_NEXT, %edx
  call pk_desc
  pop %ecx
  pop %edx
  test %esi, %esi
  jz 1f
  mov %esi, %eax
  or $F_NEXT, %edx
  call pk_desc
1:mov $STATUS, %eax
  mov $1, %ecx
  mov $F_WRITE, %edx
  call pk_desc
  mov PK_FIRST, %edi
  mov PK_FLAGS, %eax
  mov %ax, DESC+14(%edi)
  movl $0, 0x50(%ebp)           # QueueNotify: queue 0
  xor %edx, %edx                # used: AVAIL and USED both equal the first slot's wrap counter
  test $0x80, %eax
  jz 2f
  mov $0x8080, %edx
2:mov $POLLS, %ecx
3:movzwl DESC+14(%edi), %eax
  and $0x8080, %eax
  cmp %edx, %eax
  je 4f
  pause
  dec %ecx
  jnz 3b
  mov $9, %ebx
  jmp fail
4:mov $16, %ebx
  movzwl DESC+12(%edi), %eax
  cmp PK_ID, %eax
  jne fail
  movzbl STATUS, %eax
  ret

# pk_desc: writes address %eax, length %ecx, flags %edx plus the wrap counter's AVAIL/USED bits into
# slot PK_NEXT with buffer ID PK_ID (the flags of a chain's first descriptor only into PK_FLAGS), and
# advances PK_NEXT, flipping the wrap counter at the end of the ring.
pk_desc:
  mov PK_NEXT, %edi
  shl $4, %edi
  mov %eax, DESC(%edi)
  movl $0, DESC+4(%edi)
  mov %ecx, DESC+8(%edi)
  mov PK_ID, %eax
  mov %ax, DESC+12(%edi)
  or PK_WRAP, %edx
  cmpl $0, PK_COUNT
  jne 1f
  mov %edi, PK_FIRST
  mov %edx, PK_FLAGS
  jmp 2f
1:mov %dx, DESC+14(%edi)
2:incl PK_COUNT
  mov PK_NEXT, %eax
  inc %eax
  cmp $QSIZE, %eax
  jb 3f
  xor %eax, %eax
  xorl $0x8080, PK_WRAP         # 0x0080 (wrap counter 1) <-> 0x8000 (wrap counter 0)
3:mov %eax, PK_NEXT
  ret

# puts: writes the NUL-terminated string at %esi to the UART.
puts:
  mov $0x3f8, %dx
1:lodsb
  test %al, %al
  jz 2f
  out %al, (%dx)
  jmp 1b
2:ret

# puthex: writes %eax as 8 hexadecimal digits to the UART.
puthex:
  mov $0x3f8, %dx
  mov $8, %ecx
1:rol $4, %eax
  push %eax
  and $15, %eax
  mov hex_digits(%eax), %al
  out %al, (%dx)
  pop %eax
  loop 1b
  ret

hex_digits:
  .ascii "0123456789abcdef"
found_message:
  .asciz "qemu-virtio-blk: virtio-blk at 0x"
split_message:
  .asciz ", split ring"
packed_message:
  .asciz ", packed ring"
ring_flush_message:
  .asciz ", flush\n"
ring_no_flush_message:
  .asciz ", no flush\n"
result_message:
  .asciz "qemu-virtio-blk: "
split_name:
  .asciz "split"
packed_name:
  .asciz "packed"
ok_message:
  .asciz " ok\n"
check_message:
  .asciz "check "
failed_message:
  .asciz " failed\n"
