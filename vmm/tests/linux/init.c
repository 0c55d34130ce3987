// hvkit-init: the static init of hvkit's test kernel (PID 1 of its initramfs). No libc: raw system
// calls. It prints one line on its console (fd 1, the /dev/console the kernel opened for it), waits
// until the UART has sent it (the tty layer transmits from a buffer, on interrupts: ending the VM
// right after write() cut the line short on two vCPUs), then writes its status to the debug-exit
// port, which ends the VM: 0 when the line was written whole and drained, 1 when not. Should the VM
// not end (no debug-exit device at that port), it says so and reboots.
//
// The port comes from the kernel command line: the kernel hands init each unknown NAME=VALUE
// parameter as an environment variable, so `hvkit_exit_port=0xf4` selects QEMU's isa-debug-exit
// (QEMU then exits with (status << 1) | 1). The default, 0x501, is hvctl's debug-exit (hvctl then
// exits with the status itself).
typedef unsigned long u64;

enum { kSysWrite = 1, kSysIoctl = 16, kSysIopl = 172, kSysReboot = 169 };
enum { kTcsbrk = 0x5409 };  // with a non-zero argument: tcdrain(), wait until the output is sent
enum { kDefaultPort = 0x501 };

static long syscall3(long nr, long a, long b, long c) {
  long ret;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
}

static u64 length(const char* s) {
  u64 n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

static int write_all(const char* s) {
  const u64 n = length(s);
  return syscall3(kSysWrite, 1, (long)s, (long)n) == (long)n ? 0 : 1;
}

static int starts_with(const char* s, const char* prefix) {
  while (*prefix != '\0')
    if (*s++ != *prefix++) return 0;
  return 1;
}

// A port number in decimal or 0x-hex, below 0x10000; anything else is the default.
static unsigned port_from(const char* s) {
  unsigned base = 10, value = 0;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
  }
  if (*s == '\0') return kDefaultPort;
  for (; *s != '\0'; ++s) {
    unsigned digit;
    if (*s >= '0' && *s <= '9')
      digit = (unsigned)(*s - '0');
    else if (base == 16 && *s >= 'a' && *s <= 'f')
      digit = (unsigned)(*s - 'a' + 10);
    else if (base == 16 && *s >= 'A' && *s <= 'F')
      digit = (unsigned)(*s - 'A' + 10);
    else
      return kDefaultPort;
    value = value * base + digit;
    if (value > 0xffff) return kDefaultPort;
  }
  return value;
}

// Called from _start with the initial stack pointer: argc, argv[], NULL, envp[], NULL.
__attribute__((used, noreturn)) void init_main(long* sp) {
  const long argc = sp[0];
  char** envp = (char**)(sp + argc + 2);
  unsigned port = kDefaultPort;
  for (; *envp != 0; ++envp)
    if (starts_with(*envp, "hvkit_exit_port=")) port = port_from(*envp + length("hvkit_exit_port="));

  unsigned status = (unsigned)write_all("hvkit-init: hello from userspace\n");
  if (syscall3(kSysIoctl, 1, kTcsbrk, 1) != 0) status = 1;
  if (syscall3(kSysIopl, 3, 0, 0) == 0) {
    __asm__ volatile("outl %0, %w1" : : "a"(status), "Nd"((unsigned short)port));
  }
  write_all("hvkit-init: the debug-exit write did not end the VM; rebooting\n");
  for (;;) {
    // LINUX_REBOOT_MAGIC1, MAGIC2, LINUX_REBOOT_CMD_RESTART: QEMU -no-reboot then exits.
    syscall3(kSysReboot, (long)0xfee1dead, 672274793, 0x01234567);
  }
}

__asm__(
    ".globl _start\n"
    "_start:\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call init_main\n");
