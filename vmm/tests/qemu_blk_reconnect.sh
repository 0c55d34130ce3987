#!/bin/bash
# qemu_blk_reconnect.sh: crash and reconnect with nothing lost (issue #15). Runs the qemu_blk_stress
# guest (guests/qemu/qemu_blk_stress.S: several requests always in flight, every write read back,
# every sector read again at the end) under qemu-system-x86_64 -M microvm with a vhost-user-blk
# device whose socket has reconnect=1, kills the backend with SIGKILL in the middle of the guest's
# I/O, starts it again on the same socket and image, and requires: QEMU alive throughout, the guest's
# exit 0 (it found every write and read it made, each completed once, with the right data), and the
# image holding the last round's pattern in every sector the guest wrote (zeros around them).
# Exit status: 0 passed, 1 failed, 77 skipped (no QEMU, no backend program, or no /dev/kvm).
#
#   qemu_blk_reconnect.sh [--backend-cmd CMD] [--down SECONDS] [--no-kill] [--trace FILE] GUEST
#
# GUEST          the guest ELF (qemu_blk_stress.elf).
# --backend-cmd  the vhost-user-blk backend, split into words at spaces; @SOCK@ and @IMAGE@ are
#                replaced by the socket's and the image's paths. Default: qemu-storage-daemon,
#                  qemu-storage-daemon --blockdev driver=file,node-name=f,filename=@IMAGE@
#                    --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=@SOCK@,writable=on
#                e.g. hvkit's daemon: --backend-cmd 'hvkit-vhost-user-blk --socket-path @SOCK@ --blk-file @IMAGE@'
# --down         how long the backend stays dead (default 0.5 s; QEMU retries every second).
# --no-kill      the same run without the crash: the baseline for the timings.
# --trace FILE   run the restarted backend under strace (sendmsg/recvmsg/read/write, payloads in
#                hex) into FILE: what the frontend sends on reconnect.
# Environment: QEMU names the QEMU binary (default qemu-system-x86_64); QEMU_CPU overrides -cpu
# (see qemu_virtio_blk.sh: -cpu host alone aborts under KVM on PVM).
#
# The kill comes when the guest prints its first progress line (1024 requests done), about a
# quarter of the way through its default work; there are always INFLIGHT requests made available,
# and some are taken by the backend (in flight) at any moment of the guest's I/O phase.
set -u
backend_cmd='qemu-storage-daemon --blockdev driver=file,node-name=f,filename=@IMAGE@ --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=@SOCK@,writable=on'
down=0.5 kill_backend=1 trace=''
while [ $# -gt 0 ]; do
  case $1 in
    --backend-cmd) backend_cmd=$2; shift 2 ;;
    --down) down=$2; shift 2 ;;
    --no-kill) kill_backend=0; shift ;;
    --trace) trace=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 1 ]; then
  echo "usage: $0 [--backend-cmd CMD] [--down SECONDS] [--no-kill] [--trace FILE] GUEST" >&2
  exit 2
fi
guest=$1

qemu=$(command -v "${QEMU:-qemu-system-x86_64}") ||
  { echo "SKIPPED: no ${QEMU:-qemu-system-x86_64} (scripts/setup.sh installs QEMU)"; exit 77; }
read -ra backend_words <<< "$backend_cmd"
command -v "${backend_words[0]}" > /dev/null ||
  { echo "SKIPPED: no backend program ${backend_words[0]} (qemu-storage-daemon: Debian's qemu-utils)"; exit 77; }
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "SKIPPED: /dev/kvm cannot be opened"
  exit 77
fi
if [ -n "$trace" ] && ! command -v strace > /dev/null; then
  echo "--trace needs strace" >&2
  exit 2
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-qemu-reconnect-XXXXXX") || exit 1
image=$dir/disk.img sock=$dir/vhost.sock
backend_pid='' qemu_pid=''
# Each child runs in its own session (setsid), so killing its group ends it and whatever it started
# (strace's tracee); the kills name only the groups this script made.
cleanup() {
  exec 2> /dev/null  # not bash's "Killed" notice for the backend still serving at the end
  [ -n "$qemu_pid" ] && kill -9 -- "-$qemu_pid" 2> /dev/null
  [ -n "$backend_pid" ] && kill -9 -- "-$backend_pid" 2> /dev/null
  wait 2> /dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0=$(now_ms)
stamp() { printf '[%6d ms] %s\n' $(($(now_ms) - t0)) "$*"; }
fail() {
  stamp "FAILED: $*"
  for log in "$dir"/backend*.log "$dir/qemu.log"; do
    [ -s "$log" ] && { echo "--- ${log##*/}:"; tail -n 20 "$log"; }
  done
  echo "--- guest UART:"
  cat "$dir/uart" 2> /dev/null
  exit 1
}

# start_backend N [strace args...]: the backend on $image and $sock, its output in backendN.log.
start_backend() {
  local n=$1 words=() word
  shift
  for word in "${backend_words[@]}"; do
    word=${word//@SOCK@/$sock}
    words+=("${word//@IMAGE@/$image}")
  done
  rm -f "$sock"  # a killed backend leaves its socket file behind
  setsid "$@" "${words[@]}" < /dev/null > "$dir/backend$n.log" 2>&1 &
  backend_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [ -S "$sock" ] && return 0
    kill -0 "$backend_pid" 2> /dev/null || fail "backend $n exited before making $sock"
    sleep 0.05
  done
  fail "backend $n made no socket $sock within 5 s"
}
qemu_alive() { kill -0 "$qemu_pid" 2> /dev/null; }

truncate -s 1M "$image" || fail "cannot make $image"
stamp "backend: ${backend_cmd}"
start_backend 1
stamp "backend 1 listening (pid $backend_pid)"

# shellcheck disable=SC2054  # QEMU's option values are comma-separated, not array elements
args=(
  -M microvm,x-option-roms=off,pit=off,pic=off,rtc=off,isa-serial=on,memory-backend=mem
  -object memory-backend-memfd,id=mem,size=64M,share=on
  -enable-kvm -cpu "${QEMU_CPU:-host,-arch-capabilities}" -smp 1
  -nodefaults -no-user-config -display none -monitor none
  -serial "file:$dir/uart"
  -device isa-debug-exit,iobase=0xf4,iosize=0x04
  -global virtio-mmio.force-legacy=false
  -chardev "socket,id=c0,path=$sock,reconnect=1"
  -device vhost-user-blk,chardev=c0
  -kernel "$guest"
)
echo "$qemu ${args[*]}"
setsid timeout 120 "$qemu" "${args[@]}" < /dev/null > "$dir/qemu.log" 2>&1 &
qemu_pid=$!
t_qemu=$(now_ms)
stamp "QEMU started (pid $qemu_pid)"

if [ "$kill_backend" = 1 ]; then
  for ((i = 0; i < 1200; i++)); do
    grep -q 'requests done$' "$dir/uart" 2> /dev/null && break
    qemu_alive || fail "QEMU exited before the guest's first progress line"
    sleep 0.05
  done
  grep -q 'requests done$' "$dir/uart" || fail "no progress line from the guest within 60 s"
  kill -9 -- "-$backend_pid"
  wait "$backend_pid" 2> /dev/null
  t_kill=$(now_ms)
  stamp "backend 1 killed with SIGKILL after: $(grep 'requests done$' "$dir/uart" | tail -n 1)"
  sleep "$down"
  qemu_alive || fail "QEMU died while the backend was down"
  stamp "QEMU alive with the backend down"
  if [ -n "$trace" ]; then
    start_backend 2 strace -f -tt -e trace=sendmsg,recvmsg,read,write -s 256 -x -o "$trace"
  else
    start_backend 2
  fi
  t_restart=$(now_ms)
  stamp "backend 2 listening (pid $backend_pid)"
fi

wait "$qemu_pid"
status=$?
qemu_pid=''
t_end=$(now_ms)
stamp "QEMU exited with $status"
cat "$dir/qemu.log"
echo "--- guest UART:"
cat "$dir/uart" 2> /dev/null

if [ "$status" = 124 ]; then
  fail "timed out after 120 s"
elif [ "$status" != 1 ]; then
  # (check << 1) | 1 is the guest's failed check; anything else is QEMU's own failure.
  if [ $((status & 1)) = 1 ] && [ "$status" -lt 128 ]; then
    fail "the guest's check $((status >> 1)) failed (see the comment at the top of qemu_blk_stress.S)"
  fi
  fail "QEMU exited with $status, not through isa-debug-exit"
fi
grep -q '^qemu-blk-stress: ok, ' "$dir/uart" || fail "no 'qemu-blk-stress: ok' line"
params=$(sed -n 's/^qemu-blk-stress: virtio-blk at 0x[0-9a-f]*, split ring, in flight \([0-9a-f]*\), sectors 1\.\.\([0-9a-f]*\), rounds \([0-9a-f]*\)$/\1 \2 \3/p' "$dir/uart")
read -r inflight sectors rounds <<< "$params"
[ -n "${rounds:-}" ] || fail "no parameter line from the guest"
inflight=$((16#$inflight)) sectors=$((16#$sectors)) rounds=$((16#$rounds))

# Sector s in 1..sectors: dword i = rounds << 24 | s << 8 | i; sector 0 and the one after them zero.
od -An -v -tu4 -N $(((sectors + 2) * 512)) "$image" | awk -v sectors="$sectors" -v rounds="$rounds" '
  { for (k = 1; k <= NF; k++) {
      s = int(n / 128); i = n % 128
      want = (s >= 1 && s <= sectors) ? rounds * 16777216 + s * 256 + i : 0
      if ($k != want) { printf "sector %d dword %d of the image is %d, expected %d\n", s, i, $k, want; bad = 1; exit 1 }
      n++ } }
  END { if (bad) exit 1
        if (n != (sectors + 2) * 128) { printf "the image is too short: %d dwords\n", n; exit 1 } }' ||
  fail "the image does not hold the last round's data"

requests=$(sed -n 's/^qemu-blk-stress: ok, \([0-9a-f]*\) requests$/\1/p' "$dir/uart")
echo "--- timings (ms): QEMU start to guest exit $((t_end - t_qemu))"
if [ "$kill_backend" = 1 ]; then
  echo "    QEMU start to kill $((t_kill - t_qemu)), kill to backend 2 listening $((t_restart - t_kill)), then to guest exit $((t_end - t_restart))"
  echo "PASSED: $((16#$requests)) requests, $inflight in flight, sectors 1..$sectors, $rounds rounds; backend killed mid-I/O and restarted, nothing lost"
else
  echo "PASSED (no kill): $((16#$requests)) requests, $inflight in flight, sectors 1..$sectors, $rounds rounds"
fi
