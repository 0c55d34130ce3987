#!/bin/bash
# run_vhost_user_blk_reconnect.sh: crash and reconnect with nothing lost, hvctl as the frontend
# (issue #15). Runs the virtio_blk_stress guest (guests/virtio_blk_stress.S: 8 requests always in
# flight, every write read back, every sector read again at the end, every completion checked against
# what is in flight) under `hvctl run --vhost-user-blk SOCK`, kills the vhost-user-blk backend with
# SIGKILL in the middle of the guest's I/O, starts it again on the same socket and image, and
# requires: hvctl alive while the backend is down, one "went away; reconnecting" and one
# "reconnected" report, the guest's exit 0 (it found every write and read it made, each completed
# once, with the right data), and the image holding the last round's pattern in every sector the
# guest wrote (zeros around them). The same checks as qemu_blk_reconnect.sh, with hvctl for QEMU.
# Exit status: 0 passed, 1 failed, 77 skipped (no backend program or no /dev/kvm).
#
#   run_vhost_user_blk_reconnect.sh [--backend-cmd CMD] [--hv NAME] [--down SECONDS]
#                                   [--reconnect MS] [--no-kill | --no-restart] [--timeout S] HVCTL GUEST
#
# --backend-cmd  the backend, split into words at spaces; @SOCK@ and @IMAGE@ are replaced by the
#                socket's and the image's paths. Default: qemu-storage-daemon,
#                  qemu-storage-daemon --blockdev driver=file,node-name=f,filename=@IMAGE@
#                    --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=@SOCK@,writable=on
#                e.g. hvkit's daemon: --backend-cmd 'hvkit-vhost-user-blk --socket-path @SOCK@ --blk-file @IMAGE@'
# --hv           hvctl's --backend (default kvm; mshv-sim also runs on /dev/kvm).
# --down         how long the backend stays dead (default 0.5 s).
# --reconnect    hvctl's --vhost-user-reconnect (default: hvctl's, 250 ms).
# --no-kill      the same run without the crash: the baseline for the timings.
# --no-restart   kill the backend and never start it again: hvctl must keep reconnecting (one report,
#                no "reconnected") and still end at its --timeout with exit status 124.
# --timeout      hvctl's --timeout (default 200 s).
set -u
backend_cmd='qemu-storage-daemon --blockdev driver=file,node-name=f,filename=@IMAGE@ --export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=@SOCK@,writable=on'
hv=kvm down=0.5 kill_backend=1 restart=1 timeout=200 reconnect=()
while [ $# -gt 0 ]; do
  case $1 in
    --backend-cmd) backend_cmd=$2; shift 2 ;;
    --hv) hv=$2; shift 2 ;;
    --down) down=$2; shift 2 ;;
    --reconnect) reconnect=(--vhost-user-reconnect "$2"); shift 2 ;;
    --no-kill) kill_backend=0; shift ;;
    --no-restart) restart=0; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -ne 2 ]; then
  echo "usage: $0 [--backend-cmd CMD] [--hv NAME] [--down SECONDS] [--reconnect MS] [--no-kill | --no-restart] [--timeout S] HVCTL GUEST" >&2
  exit 2
fi
hvctl=$1 guest=$2

read -ra backend_words <<< "$backend_cmd"
command -v "${backend_words[0]}" > /dev/null ||
  { echo "SKIPPED: no backend program ${backend_words[0]} (qemu-storage-daemon: Debian's qemu-utils)"; exit 77; }
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "SKIPPED: /dev/kvm cannot be opened (the $hv backend needs it)"
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-vhost-reconnect-XXXXXX") || exit 1
image=$dir/disk.img sock=$dir/vhost.sock
backend_pid='' vmm_pid=''
# Each child runs in its own session (setsid), so killing its group ends it and whatever it started;
# the kills name only the groups this script made.
cleanup() {
  exec 2> /dev/null  # not bash's "Killed" notice for the backend still serving at the end
  [ -n "$vmm_pid" ] && kill -9 -- "-$vmm_pid" 2> /dev/null
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
  for log in "$dir"/backend*.log "$dir/err"; do
    [ -s "$log" ] && { echo "--- ${log##*/}:"; tail -n 20 "$log"; }
  done
  echo "--- guest UART:"
  cat "$dir/uart" 2> /dev/null
  exit 1
}

# start_backend N: the backend on $image and $sock, its output in backendN.log.
start_backend() {
  local n=$1 words=() word
  for word in "${backend_words[@]}"; do
    word=${word//@SOCK@/$sock}
    words+=("${word//@IMAGE@/$image}")
  done
  rm -f "$sock"  # a killed backend leaves its socket file behind
  setsid "${words[@]}" < /dev/null > "$dir/backend$n.log" 2>&1 &
  backend_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [ -S "$sock" ] && return 0
    kill -0 "$backend_pid" 2> /dev/null || fail "backend $n exited before making $sock"
    sleep 0.05
  done
  fail "backend $n made no socket $sock within 5 s"
}
vmm_alive() { kill -0 "$vmm_pid" 2> /dev/null; }

truncate -s 1M "$image" || fail "cannot make $image"
stamp "backend: ${backend_cmd}"
start_backend 1
stamp "backend 1 listening (pid $backend_pid)"

args=(run --backend "$hv" --timeout "$timeout" "${reconnect[@]}" --vhost-user-blk "$sock" --load 0x1000 "$guest")
echo "$hvctl ${args[*]}"
setsid "$hvctl" "${args[@]}" < /dev/null > "$dir/uart" 2> "$dir/err" &
vmm_pid=$!
t_vmm=$(now_ms)
stamp "hvctl started (pid $vmm_pid)"

if [ "$kill_backend" = 1 ]; then
  for ((i = 0; i < 2400; i++)); do
    grep -q 'requests done$' "$dir/uart" 2> /dev/null && break
    vmm_alive || fail "hvctl exited before the guest's first progress line"
    sleep 0.05
  done
  grep -q 'requests done$' "$dir/uart" || fail "no progress line from the guest within 120 s"
  kill -9 -- "-$backend_pid"
  wait "$backend_pid" 2> /dev/null
  t_kill=$(now_ms)
  stamp "backend 1 killed with SIGKILL after: $(grep 'requests done$' "$dir/uart" | tail -n 1)"
  sleep "$down"
  vmm_alive || fail "hvctl died while the backend was down"
  stamp "hvctl alive with the backend down"
  if [ "$restart" = 1 ]; then
    start_backend 2
    t_restart=$(now_ms)
    stamp "backend 2 listening (pid $backend_pid)"
  fi
fi

wait "$vmm_pid"
status=$?
vmm_pid=''
t_end=$(now_ms)
stamp "hvctl exited with $status"
echo "--- hvctl stderr:"
cat "$dir/err"
echo "--- guest UART:"
cat "$dir/uart" 2> /dev/null

if [ "$restart" = 0 ]; then
  [ "$status" = 124 ] || fail "hvctl exited with $status (expected 124: its --timeout, the backend never came back)"
  went=$(grep -c "went away; reconnecting" "$dir/err")
  [ "$went" = 1 ] || fail "hvctl reported the lost backend $went times (expected once)"
  grep -q ": reconnected$" "$dir/err" && fail "hvctl reported a reconnect to a backend that never came back"
  echo "PASSED: the backend never came back; hvctl kept the VM running, reported once, and its --timeout ended the run after $((t_end - t_vmm)) ms"
  exit 0
fi
[ "$status" = 124 ] && fail "timed out after $timeout s"
[ "$status" = 0 ] || fail "hvctl exited with $status (a guest check, see virtio_blk_stress.S, or hvctl's own failure)"
grep -q '^blk-stress: ok, ' "$dir/uart" || fail "no 'blk-stress: ok' line"
if [ "$kill_backend" = 1 ]; then
  went=$(grep -c "went away; reconnecting" "$dir/err")
  back=$(grep -c ": reconnected$" "$dir/err")
  [ "$went" = 1 ] || fail "hvctl reported the lost backend $went times (expected once)"
  [ "$back" = 1 ] || fail "hvctl reported $back reconnects (expected one)"
fi
params=$(sed -n 's/^blk-stress: virtio-blk at 0x[0-9a-f]*, split ring, in flight \([0-9a-f]*\), sectors 1\.\.\([0-9a-f]*\), rounds \([0-9a-f]*\)$/\1 \2 \3/p' "$dir/uart")
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

requests=$(sed -n 's/^blk-stress: ok, \([0-9a-f]*\) requests$/\1/p' "$dir/uart")
echo "--- timings (ms): hvctl start to guest exit $((t_end - t_vmm))"
if [ "$kill_backend" = 1 ]; then
  echo "    hvctl start to kill $((t_kill - t_vmm)), kill to backend 2 listening $((t_restart - t_kill)), then to guest exit $((t_end - t_restart))"
  echo "PASSED: $((16#$requests)) requests, $inflight in flight, sectors 1..$sectors, $rounds rounds on $hv; backend killed mid-I/O and restarted, nothing lost"
else
  echo "PASSED (no kill): $((16#$requests)) requests, $inflight in flight, sectors 1..$sectors, $rounds rounds on $hv"
fi
