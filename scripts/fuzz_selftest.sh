#!/usr/bin/env bash
# Self-test of the fuzz stage: undefined behaviour found while fuzzing must fail the run and leave its
# evidence. Uses signed_overflow_canary (hypervisor/fuzz/selftest/), a target of the fuzz build that
# overflows a signed int on every input:
#   1. run on one input with UBSan told to continue (halt_on_error=0), it still dies: the fuzz build's
#      UBSan is not recoverable (-fno-sanitize-recover=undefined in the top-level CMakeLists.txt);
#   2. scripts/fuzz.sh, pointed at it in a throwaway directory, exits non-zero, keeps the target's log
#      with the UBSan report and a stack trace, and keeps the crashing input.
# Needs the fuzz preset built (cmake --build --preset fuzz). Cheap: the canary dies on its first input.
# Usage: scripts/fuzz_selftest.sh [BUILD_DIR]   (default build/fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/fuzz}"
canary="$(find "$build" -type f -name signed_overflow_canary -perm -u+x | head -1)"
[ -n "$canary" ] || { echo "fuzz self-test: no signed_overflow_canary under $build (build the fuzz preset)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
  echo "fuzz self-test: $*" >&2
  failures=$((failures + 1))
}

# 1. The build: UBSan is fatal even when the options say otherwise.
printf 'x' > "$work/input"
if UBSAN_OPTIONS=halt_on_error=0 "$canary" "$work/input" > "$work/direct.log" 2>&1; then
  fail "the canary survived a signed overflow with halt_on_error=0: UBSan is recoverable in the fuzz build"
  tail -n 20 "$work/direct.log" >&2
elif ! grep -q "runtime error: signed integer overflow" "$work/direct.log"; then
  fail "the canary failed without a UBSan report"
  tail -n 20 "$work/direct.log" >&2
fi

# 2. The script: fuzz.sh over a tree holding only the canary, as a *_fuzz target with a seed corpus.
mkdir -p "$work/targets" "$work/sources/corpus/canary" "$work/artifacts"
cp "$canary" "$work/targets/canary_fuzz"
: > "$work/sources/canary_fuzz.cpp"
printf 'seed' > "$work/sources/corpus/canary/seed"
status=0
HVKIT_FUZZ_TARGETS="$work/targets" HVKIT_FUZZ_SOURCES="$work/sources" HVKIT_FUZZ_ARTIFACTS="$work/artifacts" \
  ./scripts/fuzz.sh 5 > "$work/fuzz.out" 2>&1 || status=$?
log="$work/artifacts/canary_fuzz.log"
if [ "$status" -eq 0 ]; then
  fail "fuzz.sh passed a target with undefined behaviour on every input"
  cat "$work/fuzz.out" >&2
fi
if [ ! -f "$log" ]; then
  fail "fuzz.sh kept no log at $log"
else
  grep -q "runtime error: signed integer overflow" "$log" || fail "the kept log has no UBSan report"
  grep -qE "#[0-9]+ 0x[0-9a-f]+ in LLVMFuzzerTestOneInput" "$log" || fail "the kept log has no stack trace"
fi
compgen -G "$work/artifacts/canary_fuzz-crash-*" > /dev/null || fail "fuzz.sh kept no crashing input"

if [ "$failures" -gt 0 ]; then
  echo "fuzz self-test: $failures check(s) FAILED" >&2
  exit 1
fi
echo "fuzz self-test: undefined behaviour fails the fuzz run; its log and input are kept"
