#!/bin/bash
# boot_check.sh: boots hvkit's test kernel under a VMM and checks the evidence on its console: the
# kernel's banner, all vCPUs up, the static init's line, and the VMM's exit status from the init's
# debug-exit write. Reports the wall time of the whole run. Any VMM works whose stdout (or stderr)
# is the guest's UART: QEMU with -serial stdio, `hvctl run`.
# Exit status: 0 passed, 1 failed, 77 skipped (/dev/kvm cannot be opened).
#
#   boot_check.sh [--vcpus N] [--expect-status S] [--timeout SECONDS] -- VMM-COMMAND...
#
# --vcpus N          the vCPUs the VMM gives the guest: the kernel must report "Brought up 1 node,
#                    N CPU(s)" (default 1)
# --expect-status S  the VMM's exit status when the init's debug-exit write ends it (default 0:
#                    hvctl's debug-exit; QEMU's isa-debug-exit makes that 1)
# --timeout SECONDS  the VMM is killed after this long, a failure (default 60)
set -u
vcpus=1 expect_status=0 timeout_s=60
while [ $# -gt 0 ]; do
  case $1 in
    --vcpus) vcpus=$2; shift 2 ;;
    --expect-status) expect_status=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "boot_check.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: $0 [--vcpus N] [--expect-status S] [--timeout SECONDS] -- VMM-COMMAND..." >&2
  exit 2
fi
if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
  echo "SKIPPED: /dev/kvm cannot be opened"
  exit 77
fi

log=$(mktemp "${TMPDIR:-/tmp}/hvkit-linux-boot-XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
echo "boot_check: $*"
start=$(date +%s%N)
timeout --kill-after=5 "$timeout_s" "$@" < /dev/null > "$log" 2>&1
status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
# The console may carry CRs (the 8250 driver writes CRLF); tr strips them for matching.
tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
echo "--- VMM output (the guest's UART and the VMM's messages):"
cat "$log"
echo "--- the VMM exited with $status after $elapsed_ms ms"

failed=0
fail() {
  echo "FAILED: $*"
  failed=1
}
expect_line() {  # expect_line WHAT REGEX
  grep -qE "$2" "$log" || fail "no $1 (/$2/) on the console"
}
[ "$status" = 124 ] || [ "$status" = 137 ] && fail "timed out after $timeout_s s"
expect_line "kernel banner" '^(\[ *[0-9.]+\] )?Linux version 6\.1'
if [ "$vcpus" = 1 ]; then
  expect_line "report of 1 CPU" 'smp: Brought up 1 node, 1 CPU$'
else
  expect_line "report of $vcpus CPUs" "smp: Brought up 1 node, $vcpus CPUs\$"
fi
expect_line "line from the static init" '^hvkit-init: hello from userspace$'
grep -q 'Kernel panic' "$log" && fail "the kernel panicked"
[ "$status" = "$expect_status" ] || fail "the VMM exited with $status, not $expect_status (the init's debug-exit write)"
[ "$failed" = 0 ] || exit 1
echo "PASSED: Linux 6.1 booted to its init on $vcpus vCPU(s) in $elapsed_ms ms (wall time of the whole VMM run)"
