#!/bin/bash
# qemu_linux_boot.sh: boots hvkit's test kernel under QEMU 7.2's microvm (KVM, the PVH entry of
# vmlinux), the reference for hvkit's own Linux loader, and checks it with boot_check.sh.
# Exit status: 0 passed, 1 failed, 77 skipped (no QEMU or no /dev/kvm).
#
#   qemu_linux_boot.sh VMLINUX INITRAMFS VCPUS CMDLINE
#
# Environment: QEMU names the QEMU binary (default qemu-system-x86_64); QEMU_CPU overrides -cpu.
# The default turns arch-capabilities off: under KVM on PVM, `-cpu host` makes QEMU set MSR 0x10a
# (IA32_ARCH_CAPABILITIES), which the host refuses, and QEMU aborts ("failed to set MSR 0x10a").
set -u
if [ $# -ne 4 ]; then
  echo "usage: $0 VMLINUX INITRAMFS VCPUS CMDLINE" >&2
  exit 2
fi
vmlinux=$1 initramfs=$2 vcpus=$3 cmdline=$4
qemu=$(command -v "${QEMU:-qemu-system-x86_64}") ||
  { echo "SKIPPED: no ${QEMU:-qemu-system-x86_64} (scripts/setup.sh installs QEMU)"; exit 77; }
for f in "$vmlinux" "$initramfs"; do
  [ -r "$f" ] || { echo "FAILED: no $f (the linux_guest_build test builds it)"; exit 1; }
done

# microvm with acpi=off: this kernel has no ACPI, and finds its CPUs and I/O APIC in the MP table
# that qboot (microvm's firmware) writes when ACPI is off. The PIT, PIC and RTC stay off: kvm-clock
# is the clock, the local APIC timer the tick. The init writes its status to QEMU's isa-debug-exit
# at 0xf4 (hvkit_exit_port on the command line), QEMU then exits with (status << 1) | 1;
# -no-reboot makes a panic (panic=-1) or the init's fallback reboot end QEMU too, except on nested
# KVM on PVM, where the kernel's triple-fault reboot is an emulation failure (docs/linux-boot.md).
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/boot_check.sh" --vcpus "$vcpus" --expect-status 1 -- \
  "$qemu" -M microvm,acpi=off,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on \
  -enable-kvm -cpu "${QEMU_CPU:-host,-arch-capabilities}" -smp "$vcpus" -m 128M \
  -nodefaults -no-user-config -display none -monitor none -no-reboot \
  -serial stdio \
  -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
  -kernel "$vmlinux" -initrd "$initramfs" -append "$cmdline hvkit_exit_port=0xf4"
