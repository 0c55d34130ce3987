#!/bin/bash
# run_vhost_user_i2c.sh HVCTL BACKEND DAEMON GUEST: virtio-i2c over vhost-user with hvkit on both sides
# (issue #16). Makes the two EEPROM files (A absent, B byte i = i ^ 0x5a: i2c_eeprom_files.sh), starts
#   DAEMON --socket-path SOCK --eeprom 0x50=A --eeprom 0x52=B
# runs GUEST (virtio_i2c.bin: the scenario of guests/i2c_core.inc) through
#   hvctl run --backend BACKEND --vhost-user-i2c SOCK --load 0x1000 GUEST
# and checks the guest's exit status and line, then the files from the host: while the daemon still
# runs, and again after it was killed with SIGKILL (it had no chance to write anything then: what the
# guest saw succeed was on disk before it was reported). Skips (exit 0, "SKIPPED:") without a usable
# /dev/kvm. The daemon is killed on every path (EXIT trap).
set -u
if [ $# -ne 4 ]; then
  echo "usage: $0 HVCTL BACKEND DAEMON GUEST" >&2
  exit 2
fi
hvctl=$1 backend=$2 daemon=$3 guest=$4
here=$(dirname "$0")
# shellcheck source=i2c_eeprom_files.sh
. "$here/i2c_eeprom_files.sh"
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "SKIPPED: no usable /dev/kvm (the $backend backend needs it)"
  exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-vhost-i2c-XXXXXX") || exit 1
pid=''
cleanup() {
  if [ -n "$pid" ]; then
    kill -KILL "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
socket=$dir/i2c.sock file_a=$dir/eeprom-50.bin file_b=$dir/eeprom-52.bin
i2c_make_file_b "$file_b" || { echo "FAILED: cannot write $file_b"; exit 1; }
"$daemon" --socket-path "$socket" --eeprom "0x50=$file_a" --eeprom "0x52=$file_b" > "$dir/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
if [ ! -S "$socket" ]; then
  echo "FAILED: $daemon did not listen at $socket"
  cat "$dir/daemon.log"
  exit 1
fi
start=$(date +%s%N)
timeout 120 "$hvctl" run --backend "$backend" --vhost-user-i2c "$socket" --load 0x1000 "$guest" \
  > "$dir/out" 2> "$dir/err" < /dev/null
status=$?
end=$(date +%s%N)
cat "$dir/out" "$dir/err"
echo "hvctl run --backend $backend --vhost-user-i2c (hvkit daemon): exit $status in $(((end - start) / 1000000)) ms"
if [ "$status" != 0 ]; then
  echo "FAILED: exit status $status (the guest's failed check, see guests/i2c_core.inc, or hvctl's error)"
  echo "--- daemon output:"
  cat "$dir/daemon.log"
  exit 1
fi
grep -q "^virtio-i2c: probe, read-back, wrap, groups, batch, malformed, reset: ok$" "$dir/out" ||
  { echo "FAILED: no success line"; exit 1; }
i2c_check_files "$file_a" "$file_b" "with the daemon running" || exit 1
if ! kill -0 "$pid" 2> /dev/null; then
  echo "FAILED: the daemon exited after the frontend left (it should serve the next)"
  cat "$dir/daemon.log"
  exit 1
fi
{ kill -KILL "$pid"; wait "$pid"; } 2> /dev/null  # (no "Killed" job report)
pid=''
i2c_check_files "$file_a" "$file_b" "after the daemon's SIGKILL" || exit 1
echo "--- daemon output:"
cat "$dir/daemon.log"
echo "vhost-user-i2c with hvkit's daemon on $backend: passed; both EEPROM files hold what the guest left"
