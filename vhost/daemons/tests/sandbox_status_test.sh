#!/usr/bin/env bash
# Each daemon, started on a socket as the interop tests start it, is confined before it serves: its
# /proc/PID/status shows the seccomp filter (Seccomp: 2, on every task in /proc/PID/task), no_new_privs
# and no capabilities (effective, permitted, and when started as root the bounding set); with
# --no-sandbox none of it (Seccomp: 0). As root, --user 65534:65534 leaves it running as that uid and
# gid. An unknown --user is a usage error (exit 2) found before the socket exists.
#   sandbox_status_test.sh BLK_DAEMON RNG_DAEMON I2C_DAEMON
set -uo pipefail
if [ "$#" -ne 3 ]; then
  echo "usage: $0 BLK_DAEMON RNG_DAEMON I2C_DAEMON" >&2
  exit 2
fi
blk=$1 rng=$2 i2c=$3
dir=$(mktemp -d /tmp/hvkit-sandbox-status-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
truncate -s 1M "$dir/disk.img"
failures=0

# field PID NAME: the value of NAME in /proc/PID/status.
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }

# expect LABEL NAME WANT: compares the running daemon's status field.
expect() {
  local got
  got=$(field "$pid" "$2")
  if [ "$got" != "$3" ]; then
    echo "FAILED: $1: $2 is '$got', expected '$3'"
    failures=$((failures + 1))
  else
    echo "ok: $1: $2 $got"
  fi
}

# start LABEL COMMAND...: starts the daemon and waits until it logs that it listens (after confining).
start() {
  local label=$1
  shift
  rm -f "$dir/sock" "$dir/log"
  "$@" >"$dir/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    grep -q "listening on" "$dir/log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "FAILED: $label did not start:"
  cat "$dir/log"
  exit 1
}

stop() {
  kill "$pid"
  wait "$pid" 2>/dev/null
  pid=
}

confined() {
  local label=$1 task got
  expect "$label" Seccomp 2
  for task in /proc/"$pid"/task/*; do
    got=$(sed -n 's/^Seccomp:[[:space:]]*//p' "$task/status")
    if [ "$got" != 2 ]; then
      echo "FAILED: $label: task ${task##*/}: Seccomp is '$got', expected 2"
      failures=$((failures + 1))
    fi
  done
  expect "$label" NoNewPrivs 1
  expect "$label" CapEff 0000000000000000
  expect "$label" CapPrm 0000000000000000
  expect "$label" CapInh 0000000000000000
  expect "$label" CapAmb 0000000000000000
  if [ "$(id -u)" = 0 ]; then expect "$label" CapBnd 0000000000000000; fi
}

start blk "$blk" --socket-path "$dir/sock" --blk-file "$dir/disk.img"
confined blk
stop
start rng "$rng" --socket-path "$dir/sock"
confined rng
stop
start i2c "$i2c" --socket-path "$dir/sock" --eeprom "0x50=$dir/eeprom.bin"
confined i2c
stop
start "rng --no-sandbox" "$rng" --socket-path "$dir/sock" --no-sandbox
expect "rng --no-sandbox" Seccomp 0
stop
if [ "$(id -u)" = 0 ]; then
  chmod 0777 "$dir" && chmod 0666 "$dir/disk.img"
  start "blk --user" "$blk" --socket-path "$dir/sock" --blk-file "$dir/disk.img" --user 65534:65534
  confined "blk --user"
  expect "blk --user" Uid "$(printf '65534\t65534\t65534\t65534')"
  expect "blk --user" Gid "$(printf '65534\t65534\t65534\t65534')"
  expect "blk --user" Groups ""
  stop
else
  echo "skipped: --user (needs root)"
fi
rm -f "$dir/sock"
"$rng" --socket-path "$dir/sock" --user no-such-user-hvkit >"$dir/log" 2>&1
status=$?
if [ "$status" != 2 ] || [ -e "$dir/sock" ] || ! grep -q "no user 'no-such-user-hvkit'" "$dir/log"; then
  echo "FAILED: unknown --user: exit $status, socket $([ -e "$dir/sock" ] && echo created || echo absent):"
  cat "$dir/log"
  failures=$((failures + 1))
else
  echo "ok: unknown --user: exit 2, no socket"
fi
if [ "$failures" -ne 0 ]; then
  echo "FAILED: $failures checks"
  exit 1
fi
echo "passed"
