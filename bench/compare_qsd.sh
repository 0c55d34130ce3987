#!/usr/bin/env bash
# hvkit-vhost-user-blk against qemu-storage-daemon's vhost-user-blk export, side by side
# (docs/benchmarks.md, "vhost-user-blk against qemu-storage-daemon"; issue #18).
#
#   bench/compare_qsd.sh [--load PATH] [--daemon PATH] [--seconds S] [--rounds R] [--size BYTES]
#                        [--tmpfs-dir DIR] [--disk-dir DIR] [--raw FILE] [--direct]
#                        [--storage tmpfs|disk] [--ours-arg ARG]...
#
# For each storage (a file on tmpfs, a file on a disk file system) it creates one image and starts both
# backends on that same file at once: our daemon (--blk-file, --num-queues 2, sandboxed as shipped) and
#   qemu-storage-daemon --blockdev driver=file,filename=IMG,aio=io_uring,locking=off,node-name=f
#                       --export type=vhost-user-blk,node-name=f,num-queues=2,writable=on,...
# (aio=io_uring with the default cache mode, i.e. buffered through the page cache as our daemon's
# pread/pwrite are: the best of threads, io_uring and native+cache.direct=on here; locking=off
# because our daemon holds the image's write lock). Then, for R rounds, every point of the matrix
#   --rw randread|randwrite  x  --bs 4096  x  --iodepth 1|32  x  --queues 1|2
# is run with vhost-user-blk-load (--seconds S each) against one backend and then the other, the
# order swapped every round (A B, B A, ...). It prints one row per point: the medians over the rounds
# of IOPS and p99 latency for each backend, and ours/qsd for both (IOPS: > 1 is ours faster; p99:
# < 1 is ours lower). A point a backend cannot serve (the load generator exits 3: a daemon with too
# few queues) shows n/a. Any other failure of a run (a failed request, a data mismatch) fails the script.
#   --load PATH      default: build/dev/vhost/tools/blk_load/vhost-user-blk-load
#   --daemon PATH    default: build/dev/vhost/daemons/hvkit-vhost-user-blk
#   --seconds S (2), --rounds R (3), --size BYTES (image size, 64 MiB)
#   --tmpfs-dir DIR  default /dev/shm;  --disk-dir DIR  default build/ of this repository
#   --raw FILE       also write every run's JSON line, tab-separated after its point, to FILE
#   --direct         both backends bypass the page cache: our daemon --direct (O_DIRECT), qsd
#                    cache.direct=on on its --blockdev (a fair pair; both open the one image O_DIRECT)
#   --storage S      only that storage (default: both)
#   --ours-arg ARG   one more argument for our daemon (repeatable), e.g. --queue-depth 8 to compare
#                    one of its settings
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
load="$repo/build/dev/vhost/tools/blk_load/vhost-user-blk-load"
daemon="$repo/build/dev/vhost/daemons/hvkit-vhost-user-blk"
seconds=2 rounds=3 size=$((64 << 20)) tmpfs_dir=/dev/shm disk_dir="$repo/build" raw=""
ours_direct=() qsd_cache="" storages="tmpfs disk" ours_extra=()
usage() { sed -n '5,7p' "$0" | sed 's/^# *//' >&2; exit 2; }
while [ "$#" -gt 0 ]; do
  if [ "$1" = --direct ]; then
    ours_direct=(--direct) qsd_cache=",cache.direct=on"
    shift
    continue
  fi
  [ "$#" -ge 2 ] || usage
  case "$1" in
    --load) load="$2" ;;
    --daemon) daemon="$2" ;;
    --seconds) seconds="$2" ;;
    --rounds) rounds="$2" ;;
    --size) size="$2" ;;
    --tmpfs-dir) tmpfs_dir="$2" ;;
    --disk-dir) disk_dir="$2" ;;
    --raw) raw="$2" ;;
    --storage) [[ "$2" =~ ^(tmpfs|disk)$ ]] || usage; storages="$2" ;;
    --ours-arg) ours_extra+=("$2") ;;
    *) usage ;;
  esac
  shift 2
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || usage
for program in "$load" "$daemon"; do [ -x "$program" ] || { echo "compare_qsd: no program $program" >&2; exit 1; }; done
command -v qemu-storage-daemon >/dev/null || { echo "compare_qsd: qemu-storage-daemon is not installed (qemu-utils)" >&2; exit 1; }
[ -z "$raw" ] || : >"$raw"

pids=() dirs=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  for d in "${dirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT

start() {  # start LOG SOCKET COMMAND...: runs COMMAND in the background until SOCKET exists
  local log="$1" socket="$2"; shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$socket" ] && return 0; kill -0 "${pids[-1]}" 2>/dev/null || break; sleep 0.1; done
  echo "compare_qsd: $1 did not listen at $socket:" >&2; cat "$log" >&2; exit 1
}

results="$(mktemp)"
dirs+=("$results")
one_run() {  # one_run STORAGE BACKEND SOCKET RW QD Q ROUND
  local out status
  set +e
  out="$("$load" --socket "$3" --rw "$4" --bs 4096 --iodepth "$5" --queues "$6" --seconds "$seconds" --json 2>&1)"
  status=$?
  set -e
  if [ "$status" -eq 3 ]; then
    out="n/a"
  elif [ "$status" -ne 0 ]; then
    echo "compare_qsd: $2 $1 $4 iodepth $5 queues $6 failed (exit $status): $out" >&2
    exit 1
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$4" "$5" "$6" "$2" "$7" "$out" >>"$results"
  [ -z "$raw" ] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$4" "$5" "$6" "$2" "$7" "$out" >>"$raw"
}

for storage in $storages; do
  base="$tmpfs_dir"; [ "$storage" = disk ] && base="$disk_dir"
  dir="$(mktemp -d "$base/compare_qsd.XXXXXX")"
  dirs+=("$dir")
  truncate -s "$size" "$dir/image"
  start "$dir/ours.log" "$dir/ours.sock" "$daemon" --socket-path "$dir/ours.sock" --blk-file "$dir/image" --num-queues 2 \
    "${ours_direct[@]}" "${ours_extra[@]}"
  start "$dir/qsd.log" "$dir/qsd.sock" qemu-storage-daemon \
    --blockdev "driver=file,node-name=f,filename=$dir/image,aio=io_uring,locking=off$qsd_cache" \
    --export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$dir/qsd.sock,writable=on,num-queues=2"
  for round in $(seq "$rounds"); do
    for rw in randread randwrite; do
      for qd in 1 32; do
        for q in 1 2; do
          if [ $((round % 2)) -eq 1 ]; then
            one_run "$storage" ours "$dir/ours.sock" "$rw" "$qd" "$q" "$round"
            one_run "$storage" qsd "$dir/qsd.sock" "$rw" "$qd" "$q" "$round"
          else
            one_run "$storage" qsd "$dir/qsd.sock" "$rw" "$qd" "$q" "$round"
            one_run "$storage" ours "$dir/ours.sock" "$rw" "$qd" "$q" "$round"
          fi
        done
      done
    done
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  pids=()
done

# Medians over the rounds, per point and backend; then one row per point.
awk -F'\t' '
  function median(list,   n, a, i, j, t) {
    n = split(list, a, " ")
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  {
    point = $1 "\t" $2 "\t" $3 "\t" $4
    if (!(point in seen)) { seen[point] = 1; order[++points] = point }
    if ($7 == "n/a") { na[point, $5] = 1; next }
    iops = $7; sub(/^\{"iops":/, "", iops); sub(/,.*/, "", iops)
    p99 = $7; sub(/.*"p99":/, "", p99); sub(/,.*/, "", p99)
    I[point, $5] = I[point, $5] " " iops; P[point, $5] = P[point, $5] " " p99
  }
  END {
    printf "%-6s %-9s %3s %2s | %10s %10s %6s | %10s %10s %6s\n", "file", "rw", "qd", "q", "ours IOPS", "qsd IOPS", "ratio", "ours p99", "qsd p99", "ratio"
    for (k = 1; k <= points; k++) {
      point = order[k]; split(point, f, "\t")
      if (na[point, "ours"] || na[point, "qsd"]) {
        oi = na[point, "ours"] ? "n/a" : sprintf("%.0f", median(I[point, "ours"]))
        qi = na[point, "qsd"] ? "n/a" : sprintf("%.0f", median(I[point, "qsd"]))
        op = na[point, "ours"] ? "n/a" : sprintf("%.1f", median(P[point, "ours"]))
        qp = na[point, "qsd"] ? "n/a" : sprintf("%.1f", median(P[point, "qsd"]))
        printf "%-6s %-9s %3s %2s | %10s %10s %6s | %10s %10s %6s\n", f[1], f[2], f[3], f[4], oi, qi, "-", op, qp, "-"
        continue
      }
      oi = median(I[point, "ours"]); qi = median(I[point, "qsd"]); op = median(P[point, "ours"]); qp = median(P[point, "qsd"])
      printf "%-6s %-9s %3s %2s | %10.0f %10.0f %6.2f | %10.1f %10.1f %6.2f\n", f[1], f[2], f[3], f[4], oi, qi, oi / qi, op, qp, op / qp
    }
  }' "$results"
echo "(medians of $rounds rounds of ${seconds} s per point and backend; p99 in microseconds; ratio = ours/qsd)"
