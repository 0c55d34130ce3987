#!/bin/bash
# run_hvctl_isolate.sh MODE HVCTL BACKEND DAEMONS GUEST: `hvctl run --isolate`, where hvctl starts each
# --blk and --rng device as a vhost-user daemon of its own (hvctl/device_supervisor.cpp). DAEMONS is
# the directory holding hvkit-vhost-user-blk and -rng (--isolate-daemons). MODE:
#   blk    the virtio_blk guest on --isolate --blk IMAGE: exit 0, its line, the image checked from the
#          host as run_virtio_blk.cmake does (sectors 1..4 the pattern 7*i+3, sectors 0 and 5 zero),
#          and proof the disk was served out of process: the daemon's "listening on" line, with a
#          socket in hvctl's private directory, in hvctl's stderr (crash and kill find the daemons as
#          hvctl's child processes)
#   rng    the virtio_rng guest on --isolate --rng: exit 0, its line, the daemon's "listening on"
#   crash  the virtio_blk_stress guest (8 requests in flight, every write read back) on --isolate --blk;
#          the daemon, found as hvctl's child (stdin /dev/null, none of hvctl's KVM descriptors, no
#          blocked signal, its own process group), is killed with SIGKILL mid-I/O: hvctl must report
#          "device process PID died (signal 9); restarting", start a new one (checked the same way),
#          reconnect, and the guest
#          end with exit 0 and every sector of the image holding its last round (zeros around them)
#   kill   the stress guest on --isolate --blk and --rng; hvctl itself is killed with SIGKILL mid-run:
#          both daemons must be gone within 5 s (PR_SET_PDEATHSIG), no process left behind
#   serial the virtio_blk_get_id guest on --isolate --blk IMAGE,serial=ID: the daemon gets --serial
#          and the guest's GET_ID reads the ID back ("id=[ID]"), exit 0
#   giveup the virtio_blk_await_reset guest on --isolate --blk, from a directory whose
#          hvkit-vhost-user-blk runs the real daemon once, kills it (SIGKILL) 3 s later and exits 1,
#          and on every restart exits 1 at once: hvctl must restart it 5 times, report that it gives
#          up and that the device needs a reset, the guest must see DEVICE_NEEDS_RESET (its line,
#          exit 0) and hvctl exit with it
# Every mode also requires that no process hvctl started outlives it, and (but kill, where hvctl
# cannot clean up) that its private directories are gone. Prints PASSED / FAILED: / SKIPPED:.
set -u
if [ $# -ne 5 ]; then
  echo "usage: $0 blk|rng|crash|kill|serial|giveup HVCTL BACKEND DAEMONS GUEST" >&2
  exit 2
fi
mode=$1 hvctl=$2 backend=$3 daemons=$4 guest=$5
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
  echo "SKIPPED: no usable /dev/kvm (the $backend backend needs it)"
  exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/hvkit-isolate-test-XXXXXX") || exit 1
# hvctl makes its private directories under $TMPDIR: here, so that what it leaves behind is visible.
export TMPDIR=$dir
image=$dir/disk.img vmm_pid=''
cleanup() {
  [ -n "$vmm_pid" ] && kill -9 "$vmm_pid" 2> /dev/null
  wait 2> /dev/null
  # A daemon left running by a failed run has its socket path in this run's directory.
  local p
  for p in $(pgrep -f -- "--socket-path $dir/"); do kill -9 "$p" 2> /dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
fail() {
  echo "FAILED: $*"
  echo "--- hvctl stderr:"
  cat "$dir/err" 2> /dev/null
  echo "--- guest UART:"
  cat "$dir/out" 2> /dev/null
  exit 1
}
truncate -s 1M "$image" || exit 1

# The daemons hvctl started, as its children.
children() { pgrep -P "$vmm_pid" 2> /dev/null; }
# wait_for_line REGEX FILE: up to 120 s, while hvctl runs.
wait_for_line() {
  for _ in $(seq 2400); do
    grep -q -- "$1" "$2" 2> /dev/null && return 0
    kill -0 "$vmm_pid" 2> /dev/null || fail "hvctl exited before '$1' appeared"
    sleep 0.05
  done
  fail "no '$1' within 120 s"
}
# No process of this run outlives hvctl (each daemon's --socket-path is under $dir).
require_no_daemons() {
  local left
  for _ in $(seq 50); do
    left=$(pgrep -f -- "--socket-path $dir/") || return 0
    sleep 0.1
  done
  fail "device processes still running after hvctl ended: $(ps -o pid=,args= -p "$(echo $left | tr ' ' ,)")"
}
require_no_directories() {
  local left
  left=$(find "$dir" -maxdepth 1 -name 'hvctl-isolate-*')
  [ -z "$left" ] || fail "hvctl left its private directories behind: $left"
}
# What hvctl gives a daemon (device_supervisor.cpp, spawn): /dev/null as stdin, none of hvctl's
# descriptors (the VM's, the vCPUs'), no blocked signal (hvctl blocks SIGINT and SIGTERM), a process
# group of its own.
check_child_hygiene() {
  local p=$1 held
  [ "$(readlink "/proc/$p/fd/0")" = /dev/null ] || fail "device process $p: stdin is $(readlink "/proc/$p/fd/0")"
  held=$(ls -l "/proc/$p/fd" | grep -E 'kvm') && fail "device process $p holds hvctl's descriptors: $held"
  grep -q '^SigBlk:[[:space:]]*0*$' "/proc/$p/status" ||
    fail "device process $p runs with blocked signals: $(grep '^SigBlk' "/proc/$p/status")"
  [ "$(ps -o pgid= -p "$p" | tr -d ' ')" = "$p" ] || fail "device process $p is not in a process group of its own"
}
check_image_pattern() {  # what run_virtio_blk.cmake checks
  od -An -v -tu1 -N 3072 "$image" | tr -s ' ' '\n' | grep -v '^$' | awk '
    { i = NR - 1
      if (i < 512 || i >= 2560) expected = 0; else expected = (7 * (i - 512) + 3) % 256
      if ($1 != expected) { printf "byte %d of the image is %d, expected %d\n", i, $1, expected; bad = 1; exit 1 } }
    END { if (!bad && NR != 3072) { printf "read %d bytes of the image\n", NR; exit 1 } }' ||
    fail "the image does not hold the guest's pattern"
}
check_stress_image() {  # what run_vhost_user_blk_reconnect.sh checks
  local params inflight sectors rounds
  params=$(sed -n 's/^blk-stress: virtio-blk at 0x[0-9a-f]*, split ring, in flight \([0-9a-f]*\), sectors 1\.\.\([0-9a-f]*\), rounds \([0-9a-f]*\)$/\1 \2 \3/p' "$dir/out")
  read -r inflight sectors rounds <<< "$params"
  [ -n "${rounds:-}" ] || fail "no parameter line from the guest"
  sectors=$((16#$sectors)) rounds=$((16#$rounds))
  od -An -v -tu4 -N $(((sectors + 2) * 512)) "$image" | awk -v sectors="$sectors" -v rounds="$rounds" '
    { for (k = 1; k <= NF; k++) {
        s = int(n / 128); i = n % 128
        want = (s >= 1 && s <= sectors) ? rounds * 16777216 + s * 256 + i : 0
        if ($k != want) { printf "sector %d dword %d of the image is %d, expected %d\n", s, i, $k, want; bad = 1; exit 1 }
        n++ } }
    END { if (bad) exit 1
          if (n != (sectors + 2) * 128) { printf "the image is too short: %d dwords\n", n; exit 1 } }' ||
    fail "the image does not hold the last round's data"
}

common=(run --backend "$backend" --timeout 200 --isolate --isolate-daemons "$daemons" --load 0x1000)
case $mode in
  blk) args=("${common[@]}" --blk "$image" "$guest") ;;
  rng) args=("${common[@]}" --rng "$guest") ;;
  crash) args=("${common[@]}" --blk "$image" "$guest") ;;
  kill) args=("${common[@]}" --blk "$image" --rng "$guest") ;;
  serial) args=("${common[@]}" --blk "$image,serial=-hvkit serial 01" "$guest") ;;
  giveup)
    # A daemon that keeps dying: the real one once (the device goes live on it), then nothing.
    mkdir "$dir/fake" || exit 1
    cat > "$dir/fake/hvkit-vhost-user-blk" << EOF
#!/bin/bash
if [ -e "$dir/fake/started" ]; then exit 1; fi
touch "$dir/fake/started"
"$daemons/hvkit-vhost-user-blk" "\$@" &
sleep 3
kill -9 \$!
wait
exit 1
EOF
    chmod +x "$dir/fake/hvkit-vhost-user-blk"
    args=(run --backend "$backend" --timeout 200 --isolate --isolate-daemons "$dir/fake" --load 0x1000
      --blk "$image" "$guest") ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "$hvctl ${args[*]}"
"$hvctl" "${args[@]}" < /dev/null > "$dir/out" 2> "$dir/err" &
vmm_pid=$!

case $mode in
  crash)
    wait_for_line 'requests done$' "$dir/out"
    old=$(children)
    [ "$(echo "$old" | wc -w)" = 1 ] || fail "hvctl has $(echo "$old" | wc -w) children (expected the one daemon): $old"
    check_child_hygiene "$old"
    kill -9 "$old"
    echo "killed device process $old after: $(grep 'requests done$' "$dir/out" | tail -n 1)"
    wait_for_line ": reconnected$" "$dir/err"
    new=$(children)
    [ -n "$new" ] && [ "$new" != "$old" ] || fail "no new device process after the kill (children: '$new')"
    check_child_hygiene "$new" ;;
  kill)
    wait_for_line 'requests done$' "$dir/out"
    pids=$(children)
    [ "$(echo "$pids" | wc -w)" = 2 ] || fail "hvctl has $(echo "$pids" | wc -w) children (expected two daemons): $pids"
    kill -9 "$vmm_pid"
    wait "$vmm_pid" 2> /dev/null
    vmm_pid=''
    for _ in $(seq 50); do
      alive=''
      for p in $pids; do kill -0 "$p" 2> /dev/null && alive="$alive $p"; done
      [ -z "$alive" ] && break
      sleep 0.1
    done
    [ -z "$alive" ] || fail "device processes$alive outlived a SIGKILLed hvctl by 5 s"
    require_no_daemons
    echo "PASSED: hvctl SIGKILLed mid-run; its device processes $(echo $pids) ended with it"
    exit 0 ;;
esac

wait "$vmm_pid"
status=$?
vmm_pid=''
cat "$dir/out" "$dir/err"
[ "$status" = 0 ] || fail "hvctl exited with $status (the guest's failed check, or hvctl's error)"
require_no_daemons
require_no_directories
case $mode in
  blk)
    grep -q "virtio-blk: wrote, read back and flushed 4 sectors" "$dir/out" || fail "no success line from the guest"
    grep -q "^hvkit-vhost-user-blk: listening on $dir/hvctl-isolate-[^/]*/dev0\.sock$" "$dir/err" ||
      fail "no 'hvkit-vhost-user-blk: listening on' line: the disk was not served out of process"
    check_image_pattern
    echo "PASSED: --isolate --blk on $backend, served by hvkit-vhost-user-blk" ;;
  rng)
    grep -q "virtio-rng: two 64-byte answers, different and filled" "$dir/out" || fail "no success line from the guest"
    grep -q "^hvkit-vhost-user-rng: listening on $dir/hvctl-isolate-[^/]*/dev0\.sock$" "$dir/err" ||
      fail "no 'hvkit-vhost-user-rng: listening on' line: the device was not served out of process"
    echo "PASSED: --isolate --rng on $backend, served by hvkit-vhost-user-rng" ;;
  crash)
    grep -q '^blk-stress: ok, ' "$dir/out" || fail "no 'blk-stress: ok' line"
    grep -q "^hvctl run: --blk $image: device process $old died (signal 9); restarting$" "$dir/err" ||
      fail "hvctl did not report the death of device process $old"
    [ "$(grep -c "^hvkit-vhost-user-blk: listening on " "$dir/err")" = 2 ] || fail "expected two daemons listening"
    check_stress_image
    echo "PASSED: device process $old killed mid-I/O, restarted as $new, nothing lost" ;;
  serial)
    grep -q "^id=\[-hvkit serial 01\]$" "$dir/out" || fail "the guest did not read the serial back with GET_ID"
    grep -q "^hvkit-vhost-user-blk: listening on " "$dir/err" || fail "the disk was not served out of process"
    echo "PASSED: --isolate --blk IMAGE,serial=ID: GET_ID through hvkit-vhost-user-blk --serial" ;;
  giveup)
    [ "$(grep -c ': device process [0-9]* died (exit status 1); restarting$' "$dir/err")" = 5 ] ||
      fail "expected 5 restarts"
    grep -q "^hvctl run: --blk $image: device process [0-9]* died (exit status 1); 5 restarts within 60 s, giving up: the device needs a reset (DEVICE_NEEDS_RESET)" "$dir/err" ||
      fail "hvctl did not report giving up"
    grep -q "^virtio-blk: device needs reset$" "$dir/out" || fail "the guest did not see DEVICE_NEEDS_RESET"
    echo "PASSED: a daemon that keeps dying is given up on; the device needs a reset, the guest ran on" ;;
esac
