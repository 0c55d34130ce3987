#!/bin/bash
# run_vhost_user_hvkit_daemon.sh HVCTL BACKEND DAEMON blk|rng GUEST: hvkit on both sides of vhost-user.
# Starts hvkit's own backend daemon (hvkit-vhost-user-blk on a fresh 1 MiB image, or
# hvkit-vhost-user-rng) on a socket, runs GUEST through `hvctl run --backend BACKEND
# --vhost-user-blk|--vhost-user-rng SOCKET`, and checks the result: the guest's exit status and line,
# and for blk the image from the host (sector 0 untouched, sectors 1..4 the guest's pattern 7*i+3,
# sector 5 untouched: what run_virtio_blk.cmake checks for the in-process --blk). Skips (exit 0,
# "SKIPPED:") without a usable /dev/kvm. The daemon is killed on every path (EXIT trap).
set -u
hvctl=$1 backend=$2 daemon=$3 kind=$4 guest=$5
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "SKIPPED: no usable /dev/kvm (the $backend backend needs it)"
  exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-vhost-daemon-XXXXXX") || exit 1
pid=''
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
socket=$dir/$kind.sock image=$dir/disk.img
case $kind in
  blk)
    truncate -s 1M "$image" || exit 1
    "$daemon" --socket-path "$socket" --blk-file "$image" >"$dir/daemon.log" 2>&1 &
    expected="virtio-blk: wrote, read back and flushed 4 sectors" ;;
  rng)
    "$daemon" --socket-path "$socket" >"$dir/daemon.log" 2>&1 &
    expected="virtio-rng: two 64-byte answers, different and filled" ;;
  *) echo "usage: $0 HVCTL BACKEND DAEMON blk|rng GUEST" >&2; exit 2 ;;
esac
pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if [ ! -S "$socket" ]; then
  echo "FAILED: $daemon did not listen at $socket"
  cat "$dir/daemon.log"
  exit 1
fi
start=$(date +%s%N)
timeout 120 "$hvctl" run --backend "$backend" "--vhost-user-$kind" "$socket" --load 0x1000 "$guest" \
  >"$dir/out" 2>"$dir/err" </dev/null
status=$?
end=$(date +%s%N)
cat "$dir/out" "$dir/err"
echo "hvctl run --backend $backend --vhost-user-$kind (hvkit daemon): exit $status in $(((end - start) / 1000000)) ms"
if [ "$status" != 0 ]; then
  echo "FAILED: exit status $status (the number of the guest's failed check, or hvctl's error)"
  cat "$dir/daemon.log"
  exit 1
fi
grep -q "$expected" "$dir/out" || { echo "FAILED: no success message"; exit 1; }
if [ "$kind" = blk ]; then
  od -An -v -tu1 -N 3072 "$image" | tr -s ' ' '\n' | grep -v '^$' | awk '
    { i = NR - 1
      if (i < 512 || i >= 2560) expected = 0; else expected = (7 * (i - 512) + 3) % 256
      if ($1 != expected) { printf "FAILED: byte %d of the image is %d, expected %d\n", i, $1, expected; bad = 1; exit 1 } }
    END { if (!bad && NR != 3072) { printf "FAILED: read %d bytes of the image\n", NR; exit 1 } }' || exit 1
fi
echo "vhost-user-$kind with hvkit's daemon on $backend: passed"
