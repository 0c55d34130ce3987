#!/usr/bin/env bash
# Runs every libFuzzer target built by the `fuzz` preset for SECONDS each (default 20), starting from
# its checked-in seed corpus. New inputs go to a scratch directory, never into the repository; a
# crashing input is kept in build/fuzz-artifacts/. Exits non-zero when any target fails.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p build/fuzz-artifacts

found=0
while IFS= read -r -d '' fuzzer; do
  name="$(basename "$fuzzer")"
  source_file="$(find . -path ./build -prune -o -type f -name "${name}.cpp" -print | head -1)"
  corpus="$(dirname "$source_file")/corpus/${name%_fuzz}"
  [ -d "$corpus" ] || { echo "fuzz: $name has no seed corpus at $corpus" >&2; exit 1; }
  mkdir -p "$scratch/$name"
  log="$scratch/$name.log"
  echo "-- $name: ${seconds}s from $corpus"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="build/fuzz-artifacts/$name-" "$scratch/$name" "$corpus" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz: $name FAILED; reproducer in build/fuzz-artifacts/" >&2
    exit 1
  fi
  grep -E "^(Done|stat::number_of_executed_units)" "$log" || true
  found=$((found + 1))
done < <(find build/fuzz -type f -name '*_fuzz' -perm -u+x -print0 | sort -z)

if [ "$found" -eq 0 ]; then
  echo "fuzz: no fuzz targets found under build/fuzz" >&2
  exit 1
fi
echo "fuzz: $found targets ran clean"
