#!/usr/bin/env bash
# Fails when a tracked C++ source or header differs from what clang-format-14 makes of it with the
# repository's .clang-format. Fix with: clang-format-14 -i FILE...
# Seed corpora and generated tables (*.inc) are data, not formatted code.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format-14 > /dev/null || { echo "format: clang-format-14 is not installed (scripts/setup.sh)" >&2; exit 1; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' | grep -v '/corpus/')
[ "${#files[@]}" -gt 0 ] || { echo "format: no C++ files found (not a git checkout?)" >&2; exit 1; }
if ! clang-format-14 --dry-run --Werror "${files[@]}" 2> /tmp/hvkit-format.$$; then
  grep -E '^[^ ].*: error:' /tmp/hvkit-format.$$ | cut -d: -f1 | sort -u | sed 's/$/: not formatted (clang-format-14 -i)/'
  rm -f /tmp/hvkit-format.$$
  exit 1
fi
rm -f /tmp/hvkit-format.$$
echo "format: ${#files[@]} C++ files match .clang-format"
