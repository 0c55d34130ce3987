# qemu_blk_stress: a virtio-blk stress driver for QEMU's microvm machine, the guest side of the
# crash-and-reconnect test (issue #15, qemu_blk_reconnect.sh). Like qemu_virtio_blk.S (see there for
# the boot: ELF32 with a Xen PVH entry note, 32-bit protected mode, paging off, plain integer
# instructions) it scans the microvm virtio-mmio slots for a virtio-blk device with transport
# version 2, but it negotiates VIRTIO_F_VERSION_1 only, so queue 0 is a split ring (the ring layout
# INFLIGHT_SHMFD tracks), QSIZE entries.
#
# What it does: INFLIGHT "slots" keep one request each in flight all the time, so a backend killed
# at any moment leaves requests in flight. Slot j owns sectors j+1, j+1+INFLIGHT, ... up to SECTORS
# (disjoint sets, so requests in flight never overlap). For round r = 1..ROUNDS a slot writes each of
# its sectors with pattern(r, s), reads it back into a poisoned buffer and compares; after the last
# round it reads every one of its sectors once more and compares with pattern(ROUNDS, s). Dword i of
# pattern(r, s) is r << 24 | s << 8 | i, so a lost write (an older round's data), a misplaced one
# (another sector's) and a read that did not happen (the poison) all differ. Completions are taken
# from the used ring in order, several per notification; a used element must name the head of a
# chain that is in flight (else check 10 or 11: a request completed twice, or one never made).
# It polls (no interrupts; VIRTQ_AVAIL_F_NO_INTERRUPT set) and does not notify again while it waits:
# after a backend crash it is the frontend's reconnect that has to get the ring going again.
#
# Build-time parameters (as --defsym NAME=VALUE): INFLIGHT (default 8, at most QSIZE / 3), SECTORS
# (default 256, at least INFLIGHT, at most 2047: the host's image is 1 MiB), ROUNDS (default 8, at
# most 254).
#
# Output on the UART at 0x3f8 (numbers in hexadecimal, 8 digits):
#   qemu-blk-stress: virtio-blk at 0xADDRESS, split ring, in flight N, sectors 1..N, rounds N
#   qemu-blk-stress: N requests done            (every 1024 completions)
#   qemu-blk-stress: ok, N requests             (or: qemu-blk-stress: check NN failed)
# The result goes to isa-debug-exit at port 0xf4 (iosize 4): 0 for success, else the number of the
# failed check (QEMU exits with (value << 1) | 1):
#    1 no virtio-blk device in any slot       9 no completion within 2^32 polls
#    2 transport version is not 2            10 a used element names no chain head
#    3 reset did not complete                11 a used element names a chain not in flight
#    4 VERSION_1 not offered                 12 a write failed (status not 0)
#    5 FEATURES_OK not kept                  13 a read failed (status not 0)
#    6 QueueNumMax below QSIZE               14 a read-back differs from what was written
#    7 QueueReady does not read back 1       15 the final read of a sector differs from
#    8 capacity below SECTORS + 1 sectors       pattern(ROUNDS, s)
  .ifndef INFLIGHT
  .set INFLIGHT, 8
  .endif
  .ifndef SECTORS
  .set SECTORS, 256
  .endif
  .ifndef ROUNDS
  .set ROUNDS, 8
  .endif
  .set SLOT0,    0xfeb00000
  .set SLOTS,    24
  .set QSIZE,    32
  .if INFLIGHT < 1 || INFLIGHT * 3 > QSIZE
  .error "INFLIGHT must be 1..QSIZE/3"
  .endif
  .if SECTORS < INFLIGHT || SECTORS > 2047
  .error "SECTORS must be INFLIGHT..2047"
  .endif
  .if ROUNDS < 1 || ROUNDS > 254
  .error "ROUNDS must be 1..254"
  .endif
  .set STACK,    0x1ff000
  .set DESC,     0x200000       # descriptor table: slot j uses descriptors 3j (header), 3j+1 (data), 3j+2 (status)
  .set AVAIL,    0x201000
  .set USED,     0x202000
  .set RECS,     0x203000       # one 64-byte record per slot, below
  .set BUFS,     0x204000       # one 512-byte data buffer per slot
  .set VARS,     0x206000
  .set LAST_USED, VARS+0        # the used index up to which completions were taken (16 bits)
  .set ACTIVE,   VARS+4         # slots not finished
  .set DONE,     VARS+8         # completions taken
  .set KICK,     VARS+12        # 1 when a chain was made available since the last notification
  .set CLEAR_END, VARS+64
  # A slot's record: the request header and status byte the device sees, then the driver's state.
  .set R_STATUS, 16
  .set R_SECTOR, 20
  .set R_ROUND,  24
  .set R_OP,     28             # 0 write, 1 read-back, 2 final read
  .set R_BUSY,   32             # 1 while its chain is in flight
  .set R_INDEX,  36             # j
  .set R_BUF,    40
  .set F_NEXT,   1
  .set F_WRITE,  2
  .set T_IN,     0
  .set T_OUT,    1
  .set POLL_LO,  0xffffffff     # polls per wait: the host test's timeout is the real bound

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
  mov $DESC, %edi               # rings, records, buffers and variables start zeroed
  mov $(CLEAR_END - DESC) / 4, %ecx
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
  mov $0x1000000, %ecx
4:cmpl $0, 0x70(%ebp)
  je 5f
  dec %ecx
  jnz 4b
  jmp fail
5:movl $1, 0x70(%ebp)           # ACKNOWLEDGE
  movl $3, 0x70(%ebp)           # DRIVER
  movl $1, 0x14(%ebp)           # DeviceFeaturesSel 1: bits 32..63
  mov $4, %ebx
  testl $1, 0x10(%ebp)          # VIRTIO_F_VERSION_1 (bit 32)
  jz fail
  movl $0, 0x24(%ebp)           # no feature in bits 0..31
  movl $0, 0x20(%ebp)
  movl $1, 0x24(%ebp)           # VERSION_1 only: a split ring
  movl $1, 0x20(%ebp)
  movl $11, 0x70(%ebp)          # FEATURES_OK
  mov $5, %ebx
  testl $8, 0x70(%ebp)
  jz fail

  movl $0, 0x30(%ebp)           # QueueSel 0
  mov $6, %ebx
  cmpl $QSIZE, 0x34(%ebp)       # QueueNumMax (0: no such queue)
  jb fail
  movl $QSIZE, 0x38(%ebp)
  movl $DESC, 0x80(%ebp)
  movl $0, 0x84(%ebp)
  movl $AVAIL, 0x90(%ebp)
  movl $0, 0x94(%ebp)
  movl $USED, 0xa0(%ebp)
  movl $0, 0xa4(%ebp)
  movw $1, AVAIL                # VIRTQ_AVAIL_F_NO_INTERRUPT: it polls
  movl $1, 0x44(%ebp)           # QueueReady
  mov $7, %ebx
  cmpl $1, 0x44(%ebp)
  jne fail
  movl $15, 0x70(%ebp)          # DRIVER_OK
  mov $8, %ebx
  cmpl $0, 0x104(%ebp)          # capacity (64-bit, in 512-byte sectors) > SECTORS
  jne 6f
  cmpl $SECTORS, 0x100(%ebp)
  jbe fail
6:
  mov $found_message, %esi      # the line the host test reads its parameters from
  call puts
  mov %ebp, %eax
  call puthex
  mov $inflight_message, %esi
  call puts
  mov $INFLIGHT, %eax
  call puthex
  mov $sectors_message, %esi
  call puts
  mov $SECTORS, %eax
  call puthex
  mov $rounds_message, %esi
  call puts
  mov $ROUNDS, %eax
  call puthex
  mov $newline, %esi
  call puts

  # Each slot: its three descriptors (the data descriptor's flags are set per request), its state,
  # and its first request, the write of sector j+1 in round 1.
  xor %ecx, %ecx
1:imul $48, %ecx, %edx          # slot j's descriptors start at 3j * 16
  mov %ecx, %edi
  shl $6, %edi
  add $RECS, %edi
  mov %ecx, %eax
  shl $9, %eax
  add $BUFS, %eax
  mov %eax, R_BUF(%edi)
  mov %edi, DESC(%edx)          # the header
  movl $16, DESC+8(%edx)
  movw $F_NEXT, DESC+12(%edx)
  lea 1(%ecx,%ecx,2), %esi
  mov %si, DESC+14(%edx)
  mov %eax, DESC+16(%edx)       # the data
  movl $512, DESC+24(%edx)
  inc %esi
  mov %si, DESC+30(%edx)
  lea R_STATUS(%edi), %eax      # the status byte
  mov %eax, DESC+32(%edx)
  movl $1, DESC+40(%edx)
  movw $F_WRITE, DESC+44(%edx)
  mov %ecx, R_INDEX(%edi)
  lea 1(%ecx), %eax
  mov %eax, R_SECTOR(%edi)
  movl $1, R_ROUND(%edi)
  push %ecx
  mov $1, %eax
  call fill
  mov $T_OUT, %eax
  call submit
  pop %ecx
  inc %ecx
  cmp $INFLIGHT, %ecx
  jb 1b
  movl $INFLIGHT, ACTIVE

main_loop:
  cmpl $0, KICK
  je 1f
  movl $0, KICK
  movl $0, 0x50(%ebp)           # QueueNotify: queue 0, once for everything made available
1:cmpl $0, ACTIVE
  je finished
  mov $POLL_LO, %ecx
2:movzwl USED+2, %eax
  cmp LAST_USED, %eax
  jne take
  pause
  dec %ecx
  jnz 2b
  mov $9, %ebx
  jmp fail
take:                           # every used element up to the used index
  mov LAST_USED, %eax
  and $QSIZE-1, %eax
  mov USED+4(,%eax,8), %eax     # its id: the head of a chain, 3j
  mov $10, %ebx
  cmp $3 * INFLIGHT, %eax
  jae fail
  imul $0x5556, %eax, %ecx      # j = id / 3 (exact for id < 3 * QSIZE)
  shr $16, %ecx
  imul $3, %ecx, %edx
  cmp %edx, %eax
  jne fail
  shl $6, %ecx
  lea RECS(%ecx), %edi
  mov $11, %ebx
  cmpl $1, R_BUSY(%edi)
  jne fail
  movl $0, R_BUSY(%edi)
  mov LAST_USED, %eax
  inc %eax
  and $0xffff, %eax
  mov %eax, LAST_USED
  incl DONE
  testl $0x3ff, DONE
  jnz 3f
  mov $prefix, %esi             # "qemu-blk-stress: N requests done"
  call puts
  mov DONE, %eax
  call puthex
  mov $progress_message, %esi
  call puts
3:call advance
  movzwl USED+2, %eax
  cmp LAST_USED, %eax
  jne take
  jmp main_loop

finished:
  mov $prefix, %esi
  call puts
  mov $ok_message, %esi
  call puts
  mov DONE, %eax
  call puthex
  mov $requests_message, %esi
  call puts
  xor %ebx, %ebx
  jmp exit

# advance: slot %edi's request completed; checks it and makes the slot's next request available.
advance:
  cmpl $0, R_OP(%edi)
  jne 1f
  mov $12, %ebx                 # a write: read the sector back
  cmpb $0, R_STATUS(%edi)
  jne fail
  movl $1, R_OP(%edi)
  call poison
  mov $T_IN, %eax
  jmp submit
1:mov $13, %ebx                 # a read: compare
  cmpb $0, R_STATUS(%edi)
  jne fail
  mov $14, %ebx
  cmpl $2, R_OP(%edi)
  jne 2f
  mov $15, %ebx
2:mov R_ROUND(%edi), %eax
  call compare
  jne fail
  mov R_SECTOR(%edi), %eax      # the slot's next sector, or its first one in the next round
  add $INFLIGHT, %eax
  mov %eax, R_SECTOR(%edi)
  cmp $SECTORS, %eax
  jbe 4f
  mov R_INDEX(%edi), %eax
  inc %eax
  mov %eax, R_SECTOR(%edi)
  cmpl $2, R_OP(%edi)
  jne 3f
  decl ACTIVE                   # the final reads are done: the slot is finished
  ret
3:incl R_ROUND(%edi)
  cmpl $ROUNDS, R_ROUND(%edi)
  jbe 4f
  movl $ROUNDS, R_ROUND(%edi)   # all rounds written: the final reads
  movl $2, R_OP(%edi)
4:cmpl $2, R_OP(%edi)
  je 5f
  movl $0, R_OP(%edi)
  mov R_ROUND(%edi), %eax
  call fill
  mov $T_OUT, %eax
  jmp submit
5:call poison
  mov $T_IN, %eax
  jmp submit

# submit: makes slot %edi's chain available: type %eax (T_IN or T_OUT) of its sector R_SECTOR.
submit:
  mov %eax, (%edi)              # the header: type, reserved, sector (64-bit)
  movl $0, 4(%edi)
  mov R_SECTOR(%edi), %edx
  mov %edx, 8(%edi)
  movl $0, 12(%edi)
  movb $0xff, R_STATUS(%edi)
  mov R_INDEX(%edi), %edx
  imul $48, %edx, %ecx
  mov $F_NEXT, %edx
  cmp $T_IN, %eax
  jne 1f
  or $F_WRITE, %edx             # a read: the device writes the data buffer
1:mov %dx, DESC+28(%ecx)
  movl $1, R_BUSY(%edi)
  mov R_INDEX(%edi), %eax
  imul $3, %eax, %eax           # the chain's head
  movzwl AVAIL+2, %edx          # ring[idx % QSIZE] = head, then idx + 1 (x86 keeps stores in order)
  mov %edx, %ecx
  and $QSIZE-1, %ecx
  mov %ax, AVAIL+4(,%ecx,2)
  inc %edx
  mov %dx, AVAIL+2
  movl $1, KICK
  ret

# fill: slot %edi's buffer = pattern(round %eax, sector R_SECTOR): dword i is r << 24 | s << 8 | i.
fill:
  shl $24, %eax
  mov R_SECTOR(%edi), %edx
  shl $8, %edx
  or %edx, %eax
  mov R_BUF(%edi), %edx
  xor %ecx, %ecx
1:mov %eax, (%edx,%ecx,4)
  inc %eax
  inc %ecx
  cmp $128, %ecx
  jb 1b
  ret

# compare: ZF set if slot %edi's buffer holds pattern(round %eax, sector R_SECTOR).
compare:
  shl $24, %eax
  mov R_SECTOR(%edi), %edx
  shl $8, %edx
  or %edx, %eax
  mov R_BUF(%edi), %edx
  xor %ecx, %ecx
1:cmp %eax, (%edx,%ecx,4)
  jne 2f
  inc %eax
  inc %ecx
  cmp $128, %ecx
  jb 1b
  xor %eax, %eax
2:ret

# poison: fills slot %edi's buffer with 0xa5 bytes, which no pattern holds, before a read.
poison:
  mov R_BUF(%edi), %edx
  mov $128, %ecx
1:movl $0xa5a5a5a5, -4(%edx,%ecx,4)
  loop 1b
  ret

# fail: reports check %ebx on the UART, then exits with it.
fail:
  mov $prefix, %esi
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
  .asciz "qemu-blk-stress: virtio-blk at 0x"
inflight_message:
  .asciz ", split ring, in flight "
sectors_message:
  .asciz ", sectors 1.."
rounds_message:
  .asciz ", rounds "
newline:
  .asciz "\n"
prefix:
  .asciz "qemu-blk-stress: "
progress_message:
  .asciz " requests done\n"
ok_message:
  .asciz "ok, "
requests_message:
  .asciz " requests\n"
check_message:
  .asciz "check "
failed_message:
  .asciz " failed\n"
