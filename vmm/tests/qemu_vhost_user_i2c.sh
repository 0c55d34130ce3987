#!/bin/bash
# qemu_vhost_user_i2c.sh DAEMON GUEST: QEMU as the vhost-user frontend of virtio-i2c, hvkit's i2c
# daemon as the backend (issue #16). Makes the two EEPROM files (A absent, B byte i = i ^ 0x5a:
# i2c_eeprom_files.sh), starts
#   DAEMON --socket-path SOCK --eeprom 0x50=A --eeprom 0x52=B
# and boots GUEST (qemu_virtio_i2c.elf: the scenario of guests/i2c_core.inc) on QEMU's microvm with
#   -chardev socket,id=c0,path=SOCK -device vhost-user-i2c-device,chardev=c0
# (the rest of the command line is qemu_virtio_blk.sh's: shared memfd RAM, modern virtio-mmio,
# isa-debug-exit). Then it checks the guest's exit status and line, and the files from the host while
# the daemon still runs and again after it was killed with SIGKILL. Exit status: 0 passed, 1 failed,
# 77 skipped (no QEMU or no /dev/kvm). Environment: QEMU, QEMU_CPU as for qemu_virtio_blk.sh.
set -u
if [ $# -ne 2 ]; then
  echo "usage: $0 DAEMON GUEST" >&2
  exit 2
fi
daemon=$1 guest=$2
here=$(dirname "$0")
# shellcheck source=i2c_eeprom_files.sh
. "$here/i2c_eeprom_files.sh"
qemu=$(command -v "${QEMU:-qemu-system-x86_64}") ||
  { echo "SKIPPED: no ${QEMU:-qemu-system-x86_64} (scripts/setup.sh installs QEMU)"; exit 77; }
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "SKIPPED: /dev/kvm cannot be opened"
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-qemu-vhost-i2c-XXXXXX") || exit 1
sock=$dir/i2c.sock file_a=$dir/eeprom-50.bin file_b=$dir/eeprom-52.bin daemon_pid=''
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -KILL "$daemon_pid" 2> /dev/null
    wait "$daemon_pid" 2> /dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fail() {
  echo "FAILED: $*"
  echo "--- daemon output:"
  cat "$dir/daemon.log"
  exit 1
}

i2c_make_file_b "$file_b" || fail "cannot write $file_b"
"$daemon" --socket-path "$sock" --eeprom "0x50=$file_a" --eeprom "0x52=$file_b" \
  < /dev/null > "$dir/daemon.log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < 100; i++)); do
  [ -S "$sock" ] && break
  kill -0 "$daemon_pid" 2> /dev/null || fail "the daemon exited"
  sleep 0.05
done
[ -S "$sock" ] || fail "the daemon made no socket $sock within 5 s"

# As qemu_virtio_blk.sh: microvm without legacy devices or option ROMs, modern virtio-mmio (QEMU 7.2
# makes it legacy unless force-legacy is off), RAM a shared memfd (vhost-user maps it), and
# isa-debug-exit at 0xf4 (QEMU exits with (value << 1) | 1).
# shellcheck disable=SC2054  # the commas separate QEMU's suboptions, not array elements
args=(
  -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on,memory-backend=mem
  -object memory-backend-memfd,id=mem,size=64M,share=on
  -enable-kvm -cpu "${QEMU_CPU:-host,-arch-capabilities}" -smp 1
  -nodefaults -no-user-config -display none -monitor none
  -serial "file:$dir/uart"
  -device isa-debug-exit,iobase=0xf4,iosize=0x04
  -global virtio-mmio.force-legacy=false
  -chardev "socket,id=c0,path=$sock" -device vhost-user-i2c-device,chardev=c0
  -kernel "$guest"
)
echo "$qemu ${args[*]}"
start=$(date +%s%N)
timeout 120 "$qemu" "${args[@]}" < /dev/null > "$dir/out" 2>&1
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$dir/out"
echo "--- guest UART:"
cat "$dir/uart" 2> /dev/null
echo "--- QEMU exited with $status after $elapsed_ms ms"
if [ "$status" = 124 ]; then
  fail "timed out after 120 s"
elif [ "$status" != 1 ]; then
  # (check << 1) | 1 is the guest's failed check; anything else is QEMU's own failure.
  if [ $((status & 1)) = 1 ] && [ "$status" -lt 256 ]; then
    fail "the guest's check $((status >> 1)) failed (see the comment at the top of guests/i2c_core.inc)"
  fi
  fail "QEMU exited with $status, not through isa-debug-exit"
fi
grep -q "^qemu-virtio-i2c: probe, read-back, wrap, groups, batch, malformed, reset: ok$" "$dir/uart" ||
  fail "no success line from the guest"
i2c_check_files "$file_a" "$file_b" "with the daemon running" || fail "file check"
kill -0 "$daemon_pid" 2> /dev/null || fail "the daemon exited after the frontend left (it should serve the next)"
{ kill -KILL "$daemon_pid"; wait "$daemon_pid"; } 2> /dev/null  # (no "Killed" job report)
daemon_pid=''
i2c_check_files "$file_a" "$file_b" "after the daemon's SIGKILL" || exit 1
echo "--- daemon output:"
cat "$dir/daemon.log"
echo "PASSED: QEMU's vhost-user-i2c-device with hvkit's daemon; both EEPROM files hold what the guest left"
