#!/usr/bin/env bash
# Self-test of bench/compare_rust_vmm.sh's pairing and medians (its --combine mode) on canned rounds:
# per-operation medians over an odd and an even number of rounds, hvkit "X" with rust-vmm "X",
# "X/locked" with "X/rust_mutex", rust-vmm "X/rust_<api>" beside hvkit's "X", --exclude, and the
# markdown table; and each way the two sides can fail to match (a shape missing on either side or in
# one round, different operation counts, a malformed line, nothing left to compare) must fail with
# a message naming the shape or the line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
script="$here/compare_rust_vmm.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

# line NAME MEDIAN_NS OPS [UNIT]: one shape line as both programs print it.
line() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$2" "$3" "${4:-op}" 100 9; }

# round DIR SIDE ROUND LINES...: writes one program's output for one round (each argument one or
# more lines).
round() {
  local dir="$1" side="$2" n="$3"
  shift 3
  mkdir -p "$dir"
  { echo "# $side"; printf '%s\n' "$@"; } > "$dir/$side.$n.tsv"
}

# expect_row OUTPUT LABEL HVKIT RUST RATIO: the table has that row (plain format, any spacing).
expect_row() {
  if ! awk -v label="$2" -v h="$3" -v r="$4" -v q="$5" '
      { name = $1; for (i = 2; i <= NF - 4; i++) name = name " " $i }
      name == label && $(NF - 2) == h && $(NF - 1) == r && $NF == q { found = 1 } END { exit !found }' <<< "$1"; then
    echo "FAIL: no row '$2 $3 $4 $5' in:" >&2
    echo "$1" >&2
    failures=$((failures + 1))
  fi
}

# expect_failure NAME PATTERN ARGS...: the script exits 1 with a message matching PATTERN.
expect_failure() {
  local name="$1" pattern="$2" status=0 out
  shift 2
  out="$("$script" "$@" 2>&1)" || status=$?
  if [ "$status" -ne 1 ] || ! grep -qE -- "$pattern" <<< "$out"; then
    echo "FAIL: $name: expected exit 1 and /$pattern/, got $status: $out" >&2
    failures=$((failures + 1))
  fi
}

# 3 hvkit rounds, 4 rust-vmm rounds (medians of odd and even counts); per-op values chosen so that
# the mean would differ from the median.
clean="$work/clean"
round "$clean" hvkit 1 "$(line mem/a 40 4)" "$(line vq/w 1280 128 desc)" "$(line uart/t 100 1 byte)" "$(line uart/t/locked 300 1 byte)"
round "$clean" hvkit 2 "$(line mem/a 44 4)" "$(line vq/w 2560 128 desc)" "$(line uart/t 110 1 byte)" "$(line uart/t/locked 200 1 byte)"
round "$clean" hvkit 3 "$(line mem/a 400 4)" "$(line vq/w 1536 128 desc)" "$(line uart/t 90 1 byte)" "$(line uart/t/locked 250 1 byte)"
round "$clean" rust-vmm 1 "$(line mem/a 20 4)" "$(line vq/w 640 128 desc)" "$(line vq/w/rust_iter 256 128 desc)" "$(line uart/t 50 1 byte)" "$(line uart/t/rust_mutex 500 1 byte)"
round "$clean" rust-vmm 2 "$(line vq/w 1280 128 desc)" "$(line mem/a 24 4)" "$(line vq/w/rust_iter 512 128 desc)" "$(line uart/t 60 1 byte)" "$(line uart/t/rust_mutex 400 1 byte)"
round "$clean" rust-vmm 3 "$(line mem/a 28 4)" "$(line vq/w 768 128 desc)" "$(line vq/w/rust_iter 384 128 desc)" "$(line uart/t 40 1 byte)" "$(line uart/t/rust_mutex 100 1 byte)"
round "$clean" rust-vmm 4 "$(line mem/a 400 4)" "$(line vq/w 896 128 desc)" "$(line vq/w/rust_iter 1280 128 desc)" "$(line uart/t 70 1 byte)" "$(line uart/t/rust_mutex 600 1 byte)"

if out="$("$script" --combine "$clean")"; then
  # mem/a: hvkit 10 11 100 -> 11; rust-vmm 5 6 7 100 -> 6.5
  expect_row "$out" mem/a 11.00 6.50 1.69
  # vq/w: hvkit 10 20 12 -> 12; rust-vmm 5 10 6 7 -> 6.5; rust_iter 2 4 3 10 -> 3.5
  expect_row "$out" vq/w 12.00 6.50 1.85
  expect_row "$out" vq/w/rust_iter 12.00 3.50 3.43
  expect_row "$out" uart/t 100.00 55.00 1.82
  # uart/t/locked ~ rust_mutex: hvkit 300 200 250 -> 250; rust-vmm 500 400 100 600 -> 450
  expect_row "$out" "uart/t/locked ~ rust_mutex" 250.00 450.00 0.56
  if [ "$(grep -c . <<< "$out")" -ne 6 ]; then
    echo "FAIL: expected a heading and 5 rows:" >&2
    echo "$out" >&2
    failures=$((failures + 1))
  fi
  order="$(awk 'NR > 1 { printf "%s,", $1 }' <<< "$out")"
  if [ "$order" != "mem/a,vq/w,vq/w/rust_iter,uart/t,uart/t/locked," ]; then
    echo "FAIL: rows not in hvkit's order with variants after their shape: $order" >&2
    failures=$((failures + 1))
  fi
else
  echo "FAIL: the clean rounds were rejected" >&2
  failures=$((failures + 1))
fi

if out="$("$script" --combine "$clean" --markdown --exclude uart/ --exclude rust_iter)"; then
  expected="| shape | unit | hvkit ns/op | rust-vmm ns/op | hvkit / rust-vmm |
|---|---|---:|---:|---:|
| mem/a | op | 11.00 | 6.50 | 1.69 |
| vq/w | desc | 12.00 | 6.50 | 1.85 |"
  if [ "$out" != "$expected" ]; then
    echo "FAIL: markdown with exclusions:" >&2
    echo "$out" >&2
    failures=$((failures + 1))
  fi
else
  echo "FAIL: the clean rounds with --markdown --exclude were rejected" >&2
  failures=$((failures + 1))
fi

# hvkit "X/locked/<path>" pairs with rust-vmm "X/rust_mutex" as well.
via="$work/via"
round "$via" hvkit 1 "$(line uart/t/locked 300 1 byte)" "$(line uart/t/locked/bus 600 1 byte)"
round "$via" rust-vmm 1 "$(line uart/t/rust_mutex 400 1 byte)"
if out="$("$script" --combine "$via")"; then
  expect_row "$out" "uart/t/locked ~ rust_mutex" 300.00 400.00 0.75
  expect_row "$out" "uart/t/locked/bus ~ rust_mutex" 600.00 400.00 1.50
else
  echo "FAIL: a /locked/<path> row without its own rust-vmm row was rejected" >&2
  failures=$((failures + 1))
fi

# Each kind of mismatch, on one hvkit round and one rust-vmm round.
broken() {  # broken NAME HVKIT_LINES RUST_LINES
  round "$work/$1" hvkit 1 "$2"
  round "$work/$1" rust-vmm 1 "$3"
}
broken no_rust "$(line mem/a 40 4; line mem/b 40 4)" "$(line mem/a 40 4)"
expect_failure "hvkit shape missing on the rust-vmm side" "hvkit shape mem/b has no rust-vmm shape mem/b" --combine "$work/no_rust"
broken no_mutex "$(line u/t 4 1; line u/t/locked 4 1)" "$(line u/t 4 1)"
expect_failure "locked shape without a rust_mutex row" "hvkit shape u/t/locked has no rust-vmm shape u/t/rust_mutex" --combine "$work/no_mutex"
broken no_hvkit "$(line mem/a 40 4)" "$(line mem/a 40 4; line mem/c 40 4)"
expect_failure "rust-vmm shape missing on the hvkit side" "rust-vmm shape mem/c has no hvkit shape mem/c" --combine "$work/no_hvkit"
broken no_base "$(line mem/a 40 4)" "$(line mem/a 40 4; line mem/d/rust_iter 40 4)"
expect_failure "rust-vmm variant without its hvkit shape" "rust-vmm shape mem/d/rust_iter has no hvkit shape mem/d" --combine "$work/no_base"
broken ops "$(line mem/a 40 4)" "$(line mem/a 40 8)"
expect_failure "different operation counts" "hvkit mem/a counts 4 op per iteration, rust-vmm mem/a 8 op" --combine "$work/ops"
broken malformed "$(line mem/a 40 4)" "$(printf 'mem/a\t40')"
expect_failure "a malformed line" "rust-vmm.1.tsv:2: not a shape line" --combine "$work/malformed"
broken twice "$(line mem/a 40 4; line mem/a 41 4)" "$(line mem/a 40 4)"
expect_failure "a shape twice in one round" "shape mem/a appears twice" --combine "$work/twice"
broken empty "" ""
expect_failure "nothing to compare" "no hvkit shapes" --combine "$work/empty"
cp -r "$work/no_rust" "$work/one_round"
round "$work/one_round" rust-vmm 1 "$(line mem/a 40 4; line mem/b 40 4)"
round "$work/one_round" rust-vmm 2 "$(line mem/a 40 4)"
expect_failure "a shape missing from one round" "shape mem/b is in 1 of the 2 rust-vmm rounds" --combine "$work/one_round"
mkdir -p "$work/none"
expect_failure "no rounds" "no hvkit rounds" --combine "$work/none"
expect_failure "no virtio-queue source" "--virtio-queue-src DIR is required" --rounds 1
expect_failure "a virtio-queue source that is not one" "is neither the virtio-queue crate nor a vm-virtio checkout" \
  --virtio-queue-src "$work" --hvkit-bench /bin/true

if [ "$failures" -ne 0 ]; then
  echo "compare_rust_vmm_test: $failures failure(s)" >&2
  exit 1
fi
echo "compare_rust_vmm_test: ok: medians and pairing match the canned rounds; 12 kinds of mismatch fail"
