#!/bin/bash
# run_vhost_user_backend_death.sh HVCTL BACKEND GUEST: the vhost-user backend dies under a running
# guest. Starts qemu-storage-daemon on a fresh image, runs the virtio_blk_await_reset guest through
# `hvctl run --backend BACKEND --vhost-user-reconnect 0 --vhost-user-blk SOCKET --timeout 60` (no
# reconnect: the behaviour without one), kills the daemon with SIGKILL once
# the guest's device is live, and checks that the guest saw DEVICE_NEEDS_RESET and reset the device
# (it then exits with 0: the VM kept running) and that hvctl reported the lost backend exactly once.
# Skips (exit 0, "SKIPPED:") without qemu-storage-daemon or a usable /dev/kvm. The daemon and hvctl
# are killed on every path.
set -u
hvctl=$1 backend=$2 guest=$3
if ! command -v qemu-storage-daemon >/dev/null 2>&1; then
  echo "SKIPPED: qemu-storage-daemon is not installed (Debian: qemu-utils)"
  exit 0
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "SKIPPED: no usable /dev/kvm (the $backend backend needs it)"
  exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-vhost-death-XXXXXX") || exit 1
qsd='' vmm=''
cleanup() {
  for pid in $vmm $qsd; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
image=$dir/disk.img socket=$dir/blk.sock
truncate -s 1M "$image" || exit 1
qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$image" \
  --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$socket,writable=on" \
  >"$dir/qsd.log" 2>&1 &
qsd=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; kill -0 "$qsd" 2>/dev/null || break; sleep 0.1; done
[ -S "$socket" ] || { echo "FAILED: qemu-storage-daemon did not listen at $socket"; cat "$dir/qsd.log"; exit 1; }
"$hvctl" run --backend "$backend" --timeout 60 --vhost-user-reconnect 0 --vhost-user-blk "$socket" --load 0x1000 "$guest" \
  >"$dir/out" 2>"$dir/err" </dev/null &
vmm=$!
for _ in $(seq 200); do grep -q "virtio-blk: live" "$dir/out" && break; kill -0 "$vmm" 2>/dev/null || break; sleep 0.1; done
if ! grep -q "virtio-blk: live" "$dir/out"; then
  echo "FAILED: the guest's device did not go live"
  cat "$dir/out" "$dir/err"
  exit 1
fi
kill -KILL "$qsd"
wait "$qsd" 2>/dev/null
qsd=''
wait "$vmm"
status=$?
vmm=''
cat "$dir/out" "$dir/err"
if [ "$status" != 0 ]; then
  echo "FAILED: hvctl exited with $status (expected 0: the guest saw DEVICE_NEEDS_RESET and reset the device)"
  exit 1
fi
grep -q "virtio-blk: device needs reset" "$dir/out" || { echo "FAILED: the guest did not see DEVICE_NEEDS_RESET"; exit 1; }
reports=$(grep -c "the backend went away" "$dir/err")
if [ "$reports" != 1 ]; then
  echo "FAILED: hvctl reported the lost backend $reports times (expected once)"
  exit 1
fi
echo "vhost-user backend death on $backend: the guest was told, reset the device and went on; one report"
