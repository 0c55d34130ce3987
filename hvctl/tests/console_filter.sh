#!/bin/sh
# hvctl run --console-filter: the uart_escapes guest's output reaches stdout filtered (on, and auto on a
# terminal) or byte for byte (off, and auto on a file). Usage: console_filter.sh HVCTL GUEST
set -u
hvctl=$1
guest=$2
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "SKIPPED: /dev/kvm cannot be opened"
  exit 0
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
# What the guest writes, and what may reach a terminal of it.
printf 'plain \033]52;c;U0VDUkVU\007osc52 \033]0;SECRET title\033\\\033[31mred\033[0m \033P$qSECRET\033\\dcs \302\2350;SECRET\302\234c1 \033%%@utf8 \303\251 end\r\n' > "$dir/raw"
printf 'plain osc52 \033[31mred\033[0m dcs c1 utf8 \303\251 end\r\n' > "$dir/filtered"

run() {  # run MODE-ARGS...: stdout to $dir/out, stderr to $dir/err
  "$hvctl" run "$@" --load 0x1000 "$guest" < /dev/null > "$dir/out" 2> "$dir/err"
  status=$?
  [ "$status" -eq 0 ] || fail "hvctl run $*: exit status $status: $(cat "$dir/err")"
}

run --console-filter on
cmp "$dir/out" "$dir/filtered" || fail "--console-filter on: stdout is not the filtered output ($(od -c "$dir/out"))"
grep -q 'bytes of terminal control sequences and malformed UTF-8 dropped' "$dir/err" ||
  fail "--console-filter on: no count of dropped bytes on stderr: $(cat "$dir/err")"
run --console-filter off
cmp "$dir/out" "$dir/raw" || fail "--console-filter off: stdout is not the guest's bytes"
run  # auto, stdout a file: not a terminal, nothing filtered
cmp "$dir/out" "$dir/raw" || fail "--console-filter auto on a file: stdout is not the guest's bytes"
! grep -q 'dropped' "$dir/err" || fail "auto on a file reported drops: $(cat "$dir/err")"

# auto on a terminal: script(1) gives hvctl a pseudo-terminal as stdout.
if command -v script > /dev/null 2>&1; then
  script -qec "'$hvctl' run --load 0x1000 '$guest'" /dev/null < /dev/null > "$dir/tty" 2>&1
  grep -q 'SECRET' "$dir/tty" && fail "auto on a terminal: a control string reached it ($(od -c "$dir/tty"))"
  grep -q "$(printf '\033\\[31mred')" "$dir/tty" || fail "auto on a terminal: the CSI colour did not pass ($(od -c "$dir/tty"))"
  grep -q 'plain osc52 ' "$dir/tty" || fail "auto on a terminal: the text did not pass ($(od -c "$dir/tty"))"
else
  echo "note: script(1) is not installed; --console-filter auto on a terminal not checked"
fi
echo "console filter: on, off, auto (file and terminal) as expected"
