#!/bin/bash
# run_vhost_user_blk_qsd.sh HVCTL BACKEND GUEST: interop with a real vhost-user backend. Starts
# qemu-storage-daemon (QEMU's vhost-user-blk export, libvhost-user) on a fresh 1 MiB image, runs the
# virtio_blk guest through `hvctl run --backend BACKEND --vhost-user-blk SOCKET`, and checks the image
# on the host as run_virtio_blk.cmake does for --blk: sector 0 untouched, sectors 1..4 hold the guest's
# pattern 7*i+3 (mod 256), sector 5 untouched. Prints the run's wall time. Skips (exit 0, "SKIPPED:")
# without qemu-storage-daemon or a usable /dev/kvm (kvm and mshv-sim both run on KVM). The daemon is
# killed on every path: the EXIT trap runs on success, failure and SIGINT/SIGTERM alike.
# With a fourth argument `nbd`, the daemon serves NBD on SOCKET instead (a peer that speaks another
# protocol: it greets with "NBDMAGIC"), and hvctl must refuse it as a failed negotiation (exit 4).
set -u
hvctl=$1 backend=$2 guest=$3 mode=${4:-vhost-user}
if ! command -v qemu-storage-daemon >/dev/null 2>&1; then
  echo "SKIPPED: qemu-storage-daemon is not installed (Debian: qemu-utils)"
  exit 0
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "SKIPPED: no usable /dev/kvm (the $backend backend needs it)"
  exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-vhost-qsd-XXXXXX") || exit 1
qsd=''
cleanup() {
  if [ -n "$qsd" ]; then
    kill "$qsd" 2>/dev/null
    # A daemon that ignores SIGTERM for 5 s is killed outright.
    for _ in $(seq 50); do kill -0 "$qsd" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$qsd" 2>/dev/null
    wait "$qsd" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
image=$dir/disk.img socket=$dir/blk.sock
truncate -s 1M "$image" || exit 1
if [ "$mode" = nbd ]; then
  qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$image" \
    --nbd-server "addr.type=unix,addr.path=$socket" --export "type=nbd,id=e,node-name=f" >"$dir/qsd.log" 2>&1 &
else
  qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$image" \
    --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$socket,writable=on" \
    >"$dir/qsd.log" 2>&1 &
fi
qsd=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; kill -0 "$qsd" 2>/dev/null || break; sleep 0.1; done
if [ ! -S "$socket" ]; then
  echo "FAILED: qemu-storage-daemon did not listen at $socket"
  cat "$dir/qsd.log"
  exit 1
fi
now_ns() { date +%s%N; }
start=$(now_ns)
timeout 120 "$hvctl" run --backend "$backend" --vhost-user-blk "$socket" --load 0x1000 "$guest" \
  >"$dir/out" 2>"$dir/err" </dev/null
status=$?
end=$(now_ns)
cat "$dir/out" "$dir/err"
echo "hvctl run --backend $backend --vhost-user-blk (qemu-storage-daemon, $mode): exit $status in $(((end - start) / 1000000)) ms"
if [ "$mode" = nbd ]; then
  if [ "$status" != 4 ] || ! grep -q "negotiation failed" "$dir/err"; then
    echo "FAILED: an NBD server at the socket must fail negotiation with exit status 4"
    exit 1
  fi
  echo "an NBD peer at a --vhost-user-blk socket is refused on $backend"
  exit 0
fi
if [ "$status" != 0 ]; then
  echo "FAILED: exit status $status (the number of the guest's failed check, or hvctl's error)"
  cat "$dir/qsd.log"
  exit 1
fi
grep -q "virtio-blk: wrote, read back and flushed 4 sectors" "$dir/out" || { echo "FAILED: no success message"; exit 1; }
# The image from the host: every byte of sectors 0..5, checked against the guest's pattern.
od -An -v -tu1 -N 3072 "$image" | tr -s ' ' '\n' | grep -v '^$' | awk '
  { i = NR - 1
    if (i < 512 || i >= 2560) expected = 0; else expected = (7 * (i - 512) + 3) % 256
    if ($1 != expected) { printf "FAILED: byte %d of the image is %d, expected %d\n", i, $1, expected; bad = 1; exit 1 } }
  END { if (!bad && NR != 3072) { printf "FAILED: read %d bytes of the image\n", NR; exit 1 } }' || exit 1
echo "vhost-user-blk with qemu-storage-daemon on $backend: guest and host agree on the image"
