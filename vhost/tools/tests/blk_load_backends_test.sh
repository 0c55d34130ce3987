#!/usr/bin/env bash
# vhost-user-blk-load against the backends it is for, for about a second each: our daemon
# (hvkit-vhost-user-blk) and qemu-storage-daemon's vhost-user-blk export (skipped without it). Each run
# must print the documented JSON with iops > 0 and no error (every completion is checked by the tool:
# status, used length, and the sector pattern of every read); a read of data the tool did not write
# must be caught. No timing thresholds (the one sleep only lets the pattern be written first).
#
#   blk_load_backends_test.sh LOAD_GENERATOR OUR_DAEMON
set -uo pipefail
[ "$#" -eq 2 ] || { echo "usage: $0 LOAD_GENERATOR OUR_DAEMON" >&2; exit 2; }
load="$1" daemon="$2"
dir="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
failures=0
fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

wait_for_socket() {  # wait_for_socket PATH PID LOG
  for _ in $(seq 100); do [ -S "$1" ] && return 0; kill -0 "$2" 2>/dev/null || break; sleep 0.1; done
  echo "FAILED: no socket at $1"; cat "$3"; exit 1
}

json_re='^\{"iops":[0-9]+\.[0-9], "mib_per_s":[0-9]+\.[0-9]{2}, "lat_us":\{"p50":[0-9]+\.[0-9]{2}, "p99":[0-9]+\.[0-9]{2}, "p999":[0-9]+\.[0-9]{2}\}\}$'
run_load() {  # run_load LABEL ARGS...: one run, its JSON checked
  local label="$1"; shift
  local out status
  out="$("$load" "$@" --json 2>"$dir/err")"
  status=$?
  if [ "$status" -ne 0 ]; then fail "$label: exit $status: $(cat "$dir/err")"; return; fi
  if ! [[ "$out" =~ $json_re ]]; then fail "$label: not the documented JSON: $out"; return; fi
  local iops
  iops="$(sed -E 's/^\{"iops":([0-9.]+),.*/\1/' <<<"$out")"
  if ! awk -v x="$iops" 'BEGIN { exit !(x > 0) }'; then fail "$label: iops $iops"; return; fi
  echo "ok: $label: $out"
}

# A usage error exits 2.
"$load" --socket "$dir/x" --rw read --bs 1000 >/dev/null 2>&1
[ "$?" -eq 2 ] || fail "--bs 1000 did not exit 2"

truncate -s 64M "$dir/ours.img"
"$daemon" --socket-path "$dir/ours.sock" --blk-file "$dir/ours.img" >"$dir/ours.log" 2>&1 &
pids+=($!)
wait_for_socket "$dir/ours.sock" "${pids[-1]}" "$dir/ours.log"
for rw in randread randwrite read write; do
  run_load "ours $rw iodepth 4" --socket "$dir/ours.sock" --rw "$rw" --bs 4096 --iodepth 4 --queues 1 --seconds 1
done
# Our daemon serves one queue by default: two is refused with exit 3 and the reason, before any I/O.
"$load" --socket "$dir/ours.sock" --rw randread --iodepth 4 --queues 2 --seconds 1 >/dev/null 2>"$dir/err"
status=$?
if [ "$status" -ne 3 ] || ! grep -q "needs a multiqueue backend" "$dir/err"; then
  fail "ours --queues 2: exit $status: $(cat "$dir/err")"
else
  echo "ok: ours --queues 2 refused: $(cat "$dir/err")"
fi
# With --num-queues 2 it offers VIRTIO_BLK_F_MQ and serves both queues, every read checked.
truncate -s 64M "$dir/ours-mq.img"
"$daemon" --socket-path "$dir/ours-mq.sock" --blk-file "$dir/ours-mq.img" --num-queues 2 >"$dir/ours-mq.log" 2>&1 &
pids+=($!)
wait_for_socket "$dir/ours-mq.sock" "${pids[-1]}" "$dir/ours-mq.log"
for rw in randread randwrite; do
  run_load "ours $rw iodepth 4 queues 2" --socket "$dir/ours-mq.sock" --rw "$rw" --bs 4096 --iodepth 4 --queues 2 --seconds 1
done
# The runs above negotiate EVENT_IDX (both backends offer it); one without it, every completion checked.
run_load "ours randread iodepth 8 queues 2 --no-event-idx" --socket "$dir/ours-mq.sock" --rw randread --bs 4096 \
  --iodepth 8 --queues 2 --seconds 1 --no-event-idx

# --direct (O_DIRECT, sandboxed as always): the same checked I/O without the host page cache.
truncate -s 64M "$dir/ours-direct.img"
"$daemon" --socket-path "$dir/ours-direct.sock" --blk-file "$dir/ours-direct.img" --direct --num-queues 2 \
  >"$dir/ours-direct.log" 2>&1 &
pids+=($!)
wait_for_socket "$dir/ours-direct.sock" "${pids[-1]}" "$dir/ours-direct.log"
for rw in randwrite randread; do
  run_load "ours --direct $rw iodepth 4 queues 2" --socket "$dir/ours-direct.sock" --rw "$rw" --bs 4096 --iodepth 4 \
    --queues 2 --seconds 1
done

# Every read is checked: the image is overwritten with zeros behind the daemon's back while reads
# run (after the pattern was written), so a read returns zeros and the tool must exit 1 naming the sector.
"$load" --socket "$dir/ours.sock" --rw randread --iodepth 4 --size 4194304 --seconds 20 >/dev/null 2>"$dir/err" &
reader=$!
sleep 2
dd if=/dev/zero of="$dir/ours.img" bs=1M count=4 conv=notrunc status=none
wait "$reader"
status=$?
if [ "$status" -ne 1 ] || ! grep -qE "queue 0: sector [0-9]+ read back does not hold the pattern written to it" "$dir/err"; then
  fail "zeroed image: exit $status: $(cat "$dir/err")"
else
  echo "ok: zeroed image detected: $(cat "$dir/err")"
fi

if ! command -v qemu-storage-daemon >/dev/null 2>&1; then
  echo "qemu-storage-daemon is not installed (Debian: qemu-utils): its half is skipped"
else
  truncate -s 64M "$dir/qsd.img"
  qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$dir/qsd.img" \
    --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$dir/qsd.sock,writable=on,num-queues=2" \
    >"$dir/qsd.log" 2>&1 &
  pids+=($!)
  wait_for_socket "$dir/qsd.sock" "${pids[-1]}" "$dir/qsd.log"
  for rw in randread randwrite; do
    run_load "qsd $rw iodepth 4 queues 2" --socket "$dir/qsd.sock" --rw "$rw" --bs 4096 --iodepth 4 --queues 2 --seconds 1
  done
  run_load "qsd randread iodepth 8 queues 2 --no-event-idx" --socket "$dir/qsd.sock" --rw randread --bs 4096 \
    --iodepth 8 --queues 2 --seconds 1 --no-event-idx
fi
[ "$failures" -eq 0 ] || exit 1
echo "all runs passed"
