#!/bin/bash
# run_virtio_blk_flood.sh HVCTL BACKEND GUEST BOUND_MS: runs a hostile virtio-blk guest
# (virtio_blk_flood*.bin, virtio_blk_zeroes_flood.bin: issue 12, items 1 and 2) under `hvctl run` on a
# fresh sparse 128 MiB image — on tmpfs when /dev/shm is one, where write-zeroes has no
# FALLOC_FL_ZERO_RANGE — and checks that hvctl exits with the guest's 0, that the guest's Status = 0
# write ("flood: resetting" to "flood: exiting", where the guest resets) and hvctl's exit after the
# guest's ("flood: exiting" to the end of the process) each took less than BOUND_MS of wall time,
# and that the image is still sparse (no block allocated: the floods read, or zero with "unmap").
# Prints both times.
hvctl=$1 backend=$2 guest=$3 bound_ms=$4
base=/dev/shm
[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ -w /dev/shm ] || base=${TMPDIR:-/tmp}
dir=$(mktemp -d "$base/hvkit-flood-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
image=$dir/disk.img
truncate -s 128M "$image" || exit 1
now_ms() { echo $(($(date +%s%N) / 1000000)); }
start=$(now_ms)
t_reset='' t_exit='' status='' t_end=''
# Each line of the guest's console is timestamped as it arrives (the UART is unbuffered); the last
# line, written once hvctl has exited, carries its status.
while IFS= read -r line; do
  t=$(now_ms)
  echo "$((t - start)) ms: $line"
  case $line in
    'flood: resetting') t_reset=$t ;;
    'flood: exiting') t_exit=$t ;;
    hvctl-status:*) status=${line#hvctl-status:} t_end=$t ;;
  esac
done < <("$hvctl" run --backend "$backend" --blk "$image" --load 0x1000 "$guest" 2>"$dir/err" </dev/null
         echo "hvctl-status:$?")
cat "$dir/err"
if [ "$status" != 0 ] || [ -z "$t_reset" ] || [ -z "$t_exit" ]; then
  echo "FAILED: hvctl run exited with ${status:-?} (expected 0: otherwise the number of the guest's failed check)"
  exit 1
fi
reset_ms=$((t_exit - t_reset)) exit_ms=$((t_end - t_exit))
echo "the guest's reset (or nothing) took ${reset_ms} ms; hvctl exited ${exit_ms} ms after the guest's exit"
blocks=$(stat -c %b "$image")
if [ "$blocks" != 0 ]; then
  echo "FAILED: the image has $blocks blocks allocated; it should still be sparse"
  exit 1
fi
if [ "$reset_ms" -ge "$bound_ms" ] || [ "$exit_ms" -ge "$bound_ms" ]; then
  echo "FAILED: over the bound of ${bound_ms} ms"
  exit 1
fi
