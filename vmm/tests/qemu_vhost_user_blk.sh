#!/bin/bash
# qemu_vhost_user_blk.sh: QEMU as the vhost-user frontend, hvkit's blk daemon as the backend (issue
# #15, interop test 1). Prepares the image with qemu_virtio_blk.sh --prepare, starts DAEMON on it,
# runs qemu_virtio_blk.sh with -device vhost-user-blk on the daemon's socket, and kills the daemon
# on every path out. Exit status: qemu_virtio_blk.sh's (0 passed, 1 failed, 77 skipped).
#
#   qemu_vhost_user_blk.sh DAEMON GUEST split|packed
#
# DAEMON  the hvkit-vhost-user-blk executable; GUEST the qemu_virtio_blk guest ELF.
set -u
if [ $# -ne 3 ]; then
  echo "usage: $0 DAEMON GUEST split|packed" >&2
  exit 2
fi
daemon=$1 guest=$2 layout=$3
here=$(dirname "$0")
case $layout in
  split) device=vhost-user-blk,chardev=c0 ;;
  packed) device=vhost-user-blk,chardev=c0,packed=on ;;
  *) echo "LAYOUT must be split or packed, not '$layout'" >&2; exit 2 ;;
esac
command -v "${QEMU:-qemu-system-x86_64}" > /dev/null ||
  { echo "SKIPPED: no ${QEMU:-qemu-system-x86_64} (scripts/setup.sh installs QEMU)"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-qemu-vhost-blk-XXXXXX") || exit 1
image=$dir/disk.img sock=$dir/blk.sock daemon_pid=''
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -9 "$daemon_pid" 2> /dev/null
    wait "$daemon_pid" 2> /dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

bash "$here/qemu_virtio_blk.sh" --image "$image" --prepare "$guest" "$layout" || exit 1
"$daemon" --socket-path "$sock" --blk-file "$image" < /dev/null > "$dir/daemon.log" 2>&1 &
daemon_pid=$!
for ((i = 0; i < 100; i++)); do
  [ -S "$sock" ] && break
  kill -0 "$daemon_pid" 2> /dev/null || { cat "$dir/daemon.log"; echo "FAILED: the daemon exited"; exit 1; }
  sleep 0.05
done
[ -S "$sock" ] || { echo "FAILED: the daemon made no socket $sock within 5 s"; exit 1; }

bash "$here/qemu_virtio_blk.sh" --image "$image" "$guest" "$layout" -- \
  -chardev "socket,id=c0,path=$sock" -device "$device"
status=$?
echo "--- daemon output:"
cat "$dir/daemon.log"
exit "$status"
