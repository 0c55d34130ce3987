#!/bin/bash
# qemu_virtio_blk.sh: runs the qemu_virtio_blk guest (guests/qemu/qemu_virtio_blk.S) under
# qemu-system-x86_64 -M microvm with KVM, then checks the guest's exit status, its UART line and the
# disk image from the host. Exit status: 0 passed, 1 failed, 77 skipped (no QEMU or no /dev/kvm).
#
#   qemu_virtio_blk.sh [--image PATH] [--prepare] GUEST LAYOUT [-- DEVICE-ARGS...]
#
# GUEST   the guest ELF (qemu_virtio_blk.elf).
# LAYOUT  split or packed: the ring layout the guest must report (it uses the packed ring exactly
#         when the device offers VIRTIO_F_RING_PACKED).
# --image PATH  the disk image, kept afterwards (default: a temporary file). The script makes it
#         1 MiB: sector 0 = byte i is 13 * i + 5 (the guest checks that it reads this), the rest 0.
# --prepare     only write the image and exit: for a test that must start a backend on it first.
# DEVICE-ARGS   QEMU arguments that attach the disk, @IMAGE@ replaced by the image's path. Default:
#         the built-in device on the image,
#           -drive file=@IMAGE@,if=none,format=raw,id=d0 -device virtio-blk-device,drive=d0[,packed=on]
#         (packed=on when LAYOUT is packed). A vhost-user backend serving the image instead:
#           -chardev socket,id=c0,path=SOCK -device vhost-user-blk,chardev=c0[,packed=on]
#         Guest RAM is always a shared memfd, which vhost-user needs and the built-in device ignores.
# Environment: QEMU names the QEMU binary (default qemu-system-x86_64); QEMU_CPU overrides -cpu.
# The default turns arch-capabilities off: under KVM on PVM, `-cpu host` makes QEMU set MSR 0x10a
# (IA32_ARCH_CAPABILITIES), which the host refuses, and QEMU aborts ("failed to set MSR 0x10a");
# the guest needs no CPU feature beyond a 386's.
set -u
image='' prepare=0
while [ $# -gt 0 ]; do
  case $1 in
    --image) image=$2; shift 2 ;;
    --prepare) prepare=1; shift ;;
    *) break ;;
  esac
done
if [ $# -lt 2 ]; then
  echo "usage: $0 [--image PATH] [--prepare] GUEST split|packed [-- DEVICE-ARGS...]" >&2
  exit 2
fi
guest=$1 layout=$2
shift 2
[ "${1:-}" = -- ] && shift
case $layout in split | packed) ;; *) echo "LAYOUT must be split or packed, not '$layout'" >&2; exit 2 ;; esac

if [ "$prepare" = 0 ]; then
  qemu=$(command -v "${QEMU:-qemu-system-x86_64}") ||
    { echo "SKIPPED: no ${QEMU:-qemu-system-x86_64} (scripts/setup.sh installs QEMU)"; exit 77; }
  if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
    echo "SKIPPED: /dev/kvm cannot be opened"
    exit 77
  fi
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-qemu-blk-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
[ -n "$image" ] || image=$dir/disk.img

# Sector 0: byte i = 13 * i + 5 (mod 256); the rest of the 1 MiB image zero.
pattern=''
for ((i = 0; i < 512; i++)); do
  printf -v byte '\\%03o' $(((13 * i + 5) % 256))
  pattern+=$byte
done
# Written in place, not replaced: a backend started after --prepare holds this file open.
printf "$pattern" > "$image" && truncate -s 1M "$image" || { echo "FAILED: cannot write $image"; exit 1; }
[ "$prepare" = 1 ] && exit 0

if [ $# -eq 0 ]; then
  device="virtio-blk-device,drive=d0"
  [ "$layout" = packed ] && device+=",packed=on"
  set -- -drive "file=@IMAGE@,if=none,format=raw,id=d0" -device "$device"
fi
device_args=()
for arg in "$@"; do device_args+=("${arg//@IMAGE@/$image}"); done

# microvm without the legacy devices the guest does not use, and without option ROMs (qboot, its
# firmware, loads the PVH ELF itself). virtio-mmio transports are legacy (version 1) in QEMU 7.2
# unless force-legacy is off. isa-debug-exit at 0xf4: QEMU exits with (value << 1) | 1.
args=(
  -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on,memory-backend=mem
  -object memory-backend-memfd,id=mem,size=64M,share=on
  -enable-kvm -cpu "${QEMU_CPU:-host,-arch-capabilities}" -smp 1
  -nodefaults -no-user-config -display none -monitor none
  -serial "file:$dir/uart"
  -device isa-debug-exit,iobase=0xf4,iosize=0x04
  -global virtio-mmio.force-legacy=false
  "${device_args[@]}"
  -kernel "$guest"
)
echo "$qemu ${args[*]}"
start=$(date +%s%N)
timeout 120 "$qemu" "${args[@]}" < /dev/null > "$dir/out" 2>&1
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$dir/out"
echo "--- guest UART:"
cat "$dir/uart" 2>/dev/null
echo "--- QEMU exited with $status after $elapsed_ms ms"

fail() {
  echo "FAILED: $*"
  exit 1
}
if [ "$status" = 124 ]; then
  fail "timed out after 120 s"
elif [ "$status" != 1 ]; then
  # (check << 1) | 1 is the guest's failed check; anything else is QEMU's own failure.
  if [ $((status & 1)) = 1 ] && [ "$status" -lt 128 ]; then
    fail "the guest's check $((status >> 1)) failed (see the comment at the top of qemu_virtio_blk.S)"
  fi
  fail "QEMU exited with $status, not through isa-debug-exit"
fi
grep -q "^qemu-virtio-blk: virtio-blk at 0x[0-9a-f]*, $layout ring" "$dir/uart" ||
  fail "the guest did not report a $layout ring"
grep -q "^qemu-virtio-blk: $layout ok\$" "$dir/uart" || fail "no 'qemu-virtio-blk: $layout ok' line"

# Sectors 1..4 hold byte i = 7 * i + 3 (mod 256), sector 0 is still the host's pattern, sector 5 zero.
od -An -v -tu1 -N 3072 "$image" | awk '
  { for (k = 1; k <= NF; k++) {
      if (n < 512) want = (13 * n + 5) % 256
      else if (n < 2560) want = (7 * (n - 512) + 3) % 256
      else want = 0
      if ($k != want) { printf "byte %d of the image is %d, expected %d\n", n, $k, want; bad = 1; exit 1 }
      n++ } }
  END { if (bad) exit 1
        if (n != 3072) { printf "the image has %d bytes, expected at least 3072\n", n; exit 1 } }' ||
  fail "the image does not hold what the guest wrote"
echo "PASSED: $layout ring; the image holds the guest's sectors 1..4"
