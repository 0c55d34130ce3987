#!/usr/bin/env bash
# Runs clang-tidy-14 (checks in .clang-tidy) over every library source in BUILD_DIR's compilation
# database: hypervisor/, kvm/, mshv/, devices/, virtio/, vhost/ (library and daemons), vmm/, backends/, conformance/src — not tests,
# fuzz targets, benchmarks or hvctl. Exits non-zero on any finding.
# Usage: scripts/tidy.sh [BUILD_DIR]   (default build/dev, configured by `cmake --preset dev`)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build/dev}"
[ -f "$build/compile_commands.json" ] || { echo "tidy: no $build/compile_commands.json (configure first)" >&2; exit 1; }
command -v clang-tidy-14 > /dev/null || { echo "tidy: clang-tidy-14 is not installed (scripts/setup.sh)" >&2; exit 1; }

# Library sources only, from the database (so generated and per-target flags are exactly the build's).
mapfile -t sources < <(grep -oE '"file": *"[^"]+"' "$build/compile_commands.json" | sed -E 's/"file": *"([^"]+)"/\1/' |
  grep -E "^$PWD/(hypervisor|kvm|mshv|devices|virtio|vhost|vmm|backends|conformance)/" |
  grep -vE '/(tests|fuzz|testing|bench)/' | sort -u)
[ "${#sources[@]}" -gt 0 ] || { echo "tidy: no library sources found in $build/compile_commands.json" >&2; exit 1; }

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
# Diagnostics in headers are limited to the library's own (HeaderFilterRegex in .clang-tidy).
printf '%s\0' "${sources[@]}" |
  xargs -0 -n 4 -P 2 clang-tidy-14 -p "$build" --quiet > "$log" 2> /dev/null || true
findings=$(grep -cE '(warning|error): ' "$log" || true)
if [ "$findings" -ne 0 ]; then
  grep -E '(warning|error): ' "$log" | sort -u
  echo "tidy: $findings findings in ${#sources[@]} library sources" >&2
  exit 1
fi
echo "tidy: ${#sources[@]} library sources, no findings"
