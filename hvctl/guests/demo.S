# The demo guest `hvctl run` boots when given no image (64-bit, linked at 0x1000). It prints a banner
# through the 16550 UART (polling LSR.THRE), reads the CMOS RTC and checks that its time and date
# registers hold valid BCD, and ends through the debug-exit port: status 0 on success, 1 otherwise.
# Its output is deterministic, so it is identical on every backend.
  .set UART, 0x3f8
  .set DEBUG_EXIT, 0x501
  .code64
  .globl _start
_start:
  lea banner(%rip), %rsi
  call puts
  xor %ebx, %ebx                 # count of RTC registers that are not valid BCD
  lea rtc_registers(%rip), %rdi
  mov $7, %ecx
1:
  movb (%rdi), %al
  out %al, $0x70                 # select the register
  in $0x71, %al
  call check_bcd
  inc %rdi
  loop 1b
  test %ebx, %ebx
  jnz bad_rtc
  lea rtc_ok(%rip), %rsi
  call puts
  lea bye(%rip), %rsi
  call puts
  xor %eax, %eax
  jmp exit
bad_rtc:
  lea rtc_bad(%rip), %rsi
  call puts
  mov $1, %eax
exit:
  mov $DEBUG_EXIT, %dx
  out %eax, (%dx)
  hlt                            # not reached: debug-exit ends the VM

# puts: write the NUL-terminated string at RSI to the UART.
puts:
  mov $(UART + 5), %dx
2:
  in (%dx), %al
  test $0x20, %al                # LSR.THRE: transmitter ready
  jz 2b
  lodsb
  test %al, %al
  jz 3f
  mov $UART, %dx
  out %al, (%dx)
  mov $(UART + 5), %dx
  jmp 2b
3:
  ret

# check_bcd: count AL in EBX unless both nibbles are decimal digits.
check_bcd:
  mov %al, %ah
  and $0x0f, %ah
  cmp $9, %ah
  ja 4f
  shr $4, %al
  cmp $9, %al
  ja 4f
  ret
4:
  inc %ebx
  ret

rtc_registers:
  .byte 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32   # sec, min, hour, day, month, year, century
banner:
  .asciz "hvkit demo guest: hello from 64-bit mode\r\n"
rtc_ok:
  .asciz "rtc: time and date read, valid BCD\r\n"
rtc_bad:
  .asciz "rtc: invalid BCD in the time registers\r\n"
bye:
  .asciz "exiting through debug-exit with status 0\r\n"
