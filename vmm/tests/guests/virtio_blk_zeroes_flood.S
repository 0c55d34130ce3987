# virtio_blk_zeroes_flood: write-zeroes amplification (issue 12, item 2). Each request is one indirect
# chain: header (WRITE_ZEROES), 16 segments, status. First the issue's request, 16 overlapping
# whole-disk segments (check 23 if it is not refused with IOERR), then 16 overlapping 8 MiB segments
# (check 24), then 256 requests from one notification, each zeroing the whole 128 MiB disk as 16
# adjacent 8 MiB segments with "unmap" (check 25 if the first is not OK). Then, as virtio_blk_flood,
# "flood: resetting", Status = 0 (check 22), "flood: exiting" and debug-exit 0. The host test checks
# the timing and that the image is still sparse. The disk must hold 262144 sectors.
  .code64
  .globl _start
_start:
  jmp main
  .include "virtio_blk_lib.inc"
  .set SEG, 0x104200             # 16 segments of 16 bytes
  .set SECTORS, 16384            # max_write_zeroes_sectors
main:
  call blk_setup
  mov $20, %ebx
  cmpq $16 * SECTORS, 0x100(%r15)
  jb fail
  movl $13, HDR                  # WRITE_ZEROES
  movl $0, HDR+4
  movq $0, HDR+8
  movq $HDR, TABLE
  movl $16, TABLE+8
  movw $F_NEXT, TABLE+12
  movw $1, TABLE+14
  movq $SEG, TABLE+16
  movl $256, TABLE+24
  movw $F_NEXT, TABLE+28
  movw $2, TABLE+30
  movq $STATUS, TABLE+32
  movl $1, TABLE+40
  movw $F_WRITE, TABLE+44
  movw $0, TABLE+46
  mov $48, %ecx
  call fill_ring

  # 1: sixteen times the whole disk.
  mov $16 * SECTORS, %edx
  xor %esi, %esi                 # sector step 0: all overlap
  xor %edi, %edi                 # flags
  call segments
  mov $1, %eax
  call request
  mov $23, %ebx
  cmpb $1, STATUS                # IOERR
  jne fail

  # 2: sixteen times the first 8 MiB.
  mov $SECTORS, %edx
  call segments
  mov $2, %eax
  call request
  mov $24, %ebx
  cmpb $1, STATUS
  jne fail

  # 3: the flood, 256 requests each zeroing the whole disk with "unmap".
  mov $SECTORS, %edx
  mov $SECTORS, %esi
  mov $1, %edi
  call segments
  movb $0xff, STATUS
  mov $2 + QSIZE, %eax
  call publish
  mov $3, %eax
  call wait_used
  mov $25, %ebx
  cmpb $0, STATUS
  jne fail
  lea resetting(%rip), %rsi
  call puts
  movl $0, 0x70(%r15)
  mov $22, %ebx
  cmpl $0, 0x70(%r15)
  jne fail
  lea exiting(%rip), %rsi
  call puts
  xor %ebx, %ebx
  jmp fail

# segments: SEG[i] = {sector i * %esi, %edx sectors, flags %edi} for i = 0..15.
segments:
  xor %ecx, %ecx
  xor %eax, %eax                 # the sector
6:mov %ecx, %r8d
  shl $4, %r8d
  movq %rax, SEG(%r8)
  movl %edx, SEG+8(%r8)
  movl %edi, SEG+12(%r8)
  add %rsi, %rax
  inc %ecx
  cmp $16, %ecx
  jb 6b
  ret

# request: publishes available index %ax (one more request) and waits for its answer.
request:
  movb $0xff, STATUS
  push %rax
  call publish
  pop %rax
  call wait_used
  ret

resetting:
  .asciz "flood: resetting\n"
exiting:
  .asciz "flood: exiting\n"
