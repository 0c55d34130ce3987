#!/usr/bin/env bash
# Checks that the code in the VMM author's guide is code that builds and runs: every code block
# fenced as ```LANG guide:NAME in README.md or docs/*.md must be, line for line, the region of the
# example sources (examples/guide/) marked
#     // [guide:NAME]        (or "# [guide:NAME]" in assembly and CMake)
#     ...
#     // [/guide:NAME]
# after the region's common indentation is removed. Marker lines of regions nested inside a region are
# not part of it. The test command builds and runs those examples (ctest: guide_*; and against the
# installed package), so a block that matches its region is compiled and run code.
#
#   scripts/check_guide.sh [ROOT]     ROOT defaults to the repository this script lives in
#
# Fails (exit 1, one line per problem) when: a block differs from its region (the diff is printed), a
# block names a region that does not exist, a region is defined twice, opened and not closed (or
# closed and not opened), or used by no block, or a ```cpp block in README.md or docs/guide.md has no
# guide:NAME tag (C++ there must be checked code). Exit 2 on a usage error.
# Bash, awk and diff only: a fresh Debian 12 may have no python3.
set -euo pipefail

if [ "$#" -gt 1 ]; then
  echo "usage: $0 [ROOT]" >&2
  exit 2
fi
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
if [ ! -d "$root" ]; then
  echo "check_guide: $root is not a directory" >&2
  exit 2
fi
cd "$root"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/regions" "$work/blocks"
problems=0
problem() {
  echo "$1"
  problems=$((problems + 1))
}

# --- regions in the example sources ------------------------------------------------------------------
# The awk program writes each region to $work/regions/NAME (raw, indented) and prints one line per
# structural problem; duplicates across files are found by the "defined in" notes below.
mapfile -d '' sources < <(find examples/guide -type f \
  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.S' -o -name 'CMakeLists.txt' \) -print0 2> /dev/null | sort -z)
if [ "${#sources[@]}" -eq 0 ]; then
  problem "examples/guide: no example sources found"
fi
for src in "${sources[@]}"; do
  while IFS= read -r line; do
    [ -n "$line" ] && problem "$line"
  done < <(awk -v dir="$work/regions" -v file="$src" '
    function name_of(line, closing,   m) {
      if (closing) { if (match(line, /\[\/guide:[A-Za-z0-9_.-]+\]/)) return substr(line, RSTART + 8, RLENGTH - 9) }
      else if (match(line, /\[guide:[A-Za-z0-9_.-]+\]/)) return substr(line, RSTART + 7, RLENGTH - 8)
      return ""
    }
    {
      close_name = name_of($0, 1)
      open_name = name_of($0, 0)
      if (open_name != "") {
        if (open_name in open) { print file ":" FNR ": region " open_name " opened again inside itself"; next }
        out = dir "/" open_name
        if ((getline probe < out) >= 0) { close(out); print file ":" FNR ": region " open_name " is defined twice"; next }
        open[open_name] = FNR
        printf "" > out
        print file ":" FNR > (dir "/" open_name ".where")
        close(dir "/" open_name ".where")
        next
      }
      if (close_name != "") {
        if (!(close_name in open)) print file ":" FNR ": region " close_name " closed but never opened"
        else { delete open[close_name]; close(dir "/" close_name) }
        next
      }
      for (n in open) print $0 >> (dir "/" n)
    }
    END { for (n in open) print file ":" open[n] ": region " n " is never closed" }
  ' "$src")
done

# Removes the common leading whitespace of FILE's non-blank lines (and trailing whitespace of each).
dedent() {
  awk '
    { lines[NR] = $0; sub(/[ \t]+$/, "", lines[NR]) }
    lines[NR] != "" { match(lines[NR], /^[ \t]*/); if (min == "" || RLENGTH < min) min = RLENGTH }
    END { for (i = 1; i <= NR; i++) print (lines[i] == "" ? "" : substr(lines[i], min + 1)) }
  ' "$1"
}

# --- fenced blocks in the documentation --------------------------------------------------------------
docs=(README.md)
while IFS= read -r -d '' md; do docs+=("$md"); done < <(find docs -maxdepth 1 -name '*.md' -print0 2> /dev/null | sort -z)
blocks=0
declare -A used=()
for md in "${docs[@]}"; do
  [ -f "$md" ] || continue
  require_tags=false
  case "$md" in README.md | docs/guide.md) require_tags=true ;; esac
  # One file per block: $work/blocks/<n> holds the code, <n>.name the region, <n>.where "md:line".
  while IFS= read -r line; do
    [ -n "$line" ] && problem "$line"
  done < <(awk -v dir="$work/blocks" -v file="$md" -v strict="$require_tags" -v start="$blocks" '
    BEGIN { n = start; inside = 0 }
    inside && /^[ \t]*```[ \t]*$/ { inside = 0; if (tagged) close(out); next }
    inside { if (tagged) print $0 > out; next }
    /^[ \t]*```/ {
      inside = 1; tagged = 0
      if (match($0, /guide:[A-Za-z0-9_.-]+/)) {
        tagged = 1; n++
        out = dir "/" n
        printf "" > out
        print substr($0, RSTART + 6, RLENGTH - 6) > (out ".name"); close(out ".name")
        print file ":" FNR > (out ".where"); close(out ".where")
      } else if (strict == "true" && $0 ~ /^[ \t]*```[ \t]*(cpp|c\+\+)[ \t]*$/) {
        print file ":" FNR ": a C++ block without a guide:NAME tag (C++ here must be an excerpt of examples/guide/)"
      }
      next
    }
    END { if (inside) print file ": a code block is never closed"; print n > (dir "/count") }
  ' "$md")
  blocks="$(cat "$work/blocks/count")"
done

for ((i = 1; i <= blocks; i++)); do
  name="$(cat "$work/blocks/$i.name")"
  where="$(cat "$work/blocks/$i.where")"
  used[$name]=1
  if [ ! -f "$work/regions/$name" ]; then
    problem "$where: block guide:$name has no region [guide:$name] in examples/guide/"
    continue
  fi
  dedent "$work/regions/$name" > "$work/expected"
  # A block's own indentation (inside a list item) is not part of the code either.
  dedent "$work/blocks/$i" > "$work/actual"
  if ! diff -u --label "examples/guide region $name ($(cat "$work/regions/$name.where"))" --label "$where" \
    "$work/expected" "$work/actual" > "$work/diff"; then
    problem "$where: block guide:$name differs from its region in examples/guide/ (- region, + block):"
    sed 's/^/    /' "$work/diff"
  fi
done

for where_file in "$work"/regions/*.where; do
  [ -e "$where_file" ] || continue
  name="$(basename "$where_file" .where)"
  if [ -z "${used[$name]+set}" ]; then
    problem "$(cat "$where_file"): region $name is in no guide:$name block of README.md or docs/*.md"
  fi
done

if [ "$problems" -gt 0 ]; then
  echo "check_guide: $problems problem(s): the documentation's code must be the examples' code (scripts/check_guide.sh)" >&2
  exit 1
fi
echo "check_guide: ok: $blocks code blocks match their regions in examples/guide/"
