#!/usr/bin/env bash
# Runs every libFuzzer target built by the `fuzz` preset for SECONDS each (default 20), starting from
# its checked-in seed corpus. New inputs go to a scratch directory, never into the repository. Any
# sanitizer report is fatal: the fuzz build makes UBSan non-recoverable (-fno-sanitize-recover) and
# this script sets halt_on_error for UBSan and ASan, so a finding stops the target and fails the run.
# Each target's log (build/fuzz-artifacts/NAME.log) and any crashing input
# (build/fuzz-artifacts/NAME-crash-*) are kept. Runs every target, then exits non-zero when any failed.
# Usage: scripts/fuzz.sh [SECONDS]
# For scripts/fuzz_selftest.sh: HVKIT_FUZZ_TARGETS (where to look for *_fuzz binaries, default
# build/fuzz), HVKIT_FUZZ_SOURCES (where their NAME.cpp and corpus/ live, default the repository) and
# HVKIT_FUZZ_ARTIFACTS (default build/fuzz-artifacts).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
targets="${HVKIT_FUZZ_TARGETS:-build/fuzz}"
sources="${HVKIT_FUZZ_SOURCES:-.}"
artifacts="${HVKIT_FUZZ_ARTIFACTS:-build/fuzz-artifacts}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"

# A sanitizer report ends the target with a stack trace (the caller's own options come after ours).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

found=0
failed=()
while IFS= read -r -d '' fuzzer; do
  name="$(basename "$fuzzer")"
  source_file="$(find "$sources" -path "$sources/build" -prune -o -type f -name "${name}.cpp" -print | head -1)"
  corpus="$(dirname "${source_file:-.}")/corpus/${name%_fuzz}"
  [ -n "$source_file" ] && [ -d "$corpus" ] || { echo "fuzz: $name has no seed corpus at $corpus" >&2; exit 1; }
  mkdir -p "$scratch/$name"
  log="$artifacts/$name.log"
  echo "-- $name: ${seconds}s from $corpus (log: $log)"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="$artifacts/$name-" "$scratch/$name" "$corpus" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $name FAILED; log in $log, reproducer (if any) in $artifacts/$name-*" >&2
    failed+=("$name")
  elif grep -q "runtime error:" "$log"; then
    # A report that did not stop the target (a sanitizer left recoverable): a failure all the same.
    grep -m 5 "runtime error:" "$log"
    echo "fuzz: $name reported undefined behaviour; log in $log" >&2
    failed+=("$name")
  else
    grep -E "^(Done|stat::number_of_executed_units)" "$log" || true
  fi
  found=$((found + 1))
done < <(find "$targets" -type f -name '*_fuzz' -perm -u+x -print0 | sort -z)

if [ "$found" -eq 0 ]; then
  echo "fuzz: no fuzz targets found under $targets" >&2
  exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: ${#failed[@]} of $found targets FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: $found targets ran clean"
