#!/usr/bin/env bash
# hvkit against rust-vmm on the same hot-path shapes (docs/benchmarks.md, "hvkit against rust-vmm").
#
#   bench/compare_rust_vmm.sh --virtio-queue-src DIR [--vmm-sys-util-src DIR] [--hvkit-bench PATH]
#                             [--rounds R] [--samples N] [--sample-ms M] [--filter TEXT]
#                             [--exclude TEXT]... [--markdown] [--build-dir DIR] [--raw-dir DIR]
#                             [--lock-runs]
#   bench/compare_rust_vmm.sh --combine DIR [--exclude TEXT]... [--markdown]
#
# Builds bench/rust-vmm-peer offline (Debian's crate registry; virtio-queue 0.7.1 and vmm-sys-util
# from the given source trees, patched in through a Cargo.toml written into the build directory),
# then runs hot_paths_bench --peer-format and the peer as whole processes, alternating
# (A B B A A B ...), for R rounds; takes each shape's median over the rounds of its median
# ns/iteration ÷ operations/iteration, pairs the two sides' rows and prints one row per pair:
# shape, hvkit ns/op, rust-vmm ns/op, hvkit/rust-vmm.
#
# Pairing: hvkit "X" with rust-vmm "X"; hvkit "X/locked" (the thread-safe adaptor) and
# "X/locked/<path>" (the same, reached another way, e.g. through the bus) with rust-vmm
# "X/rust_mutex" (the device in a std::sync::Mutex); rust-vmm "X/rust_<api>" (the same work through
# another rust-vmm API) is shown beside hvkit's "X". Every row must have its partner, both must count
# the same operations in the same unit, and every shape must appear once in every round: otherwise
# the script fails, naming the shape.
#
# --combine DIR pairs and prints the rounds already in DIR (hvkit.<round>.tsv, rust-vmm.<round>.tsv):
# the self-test (bench/compare_rust_vmm_test.sh) feeds it canned rounds.
#   --virtio-queue-src DIR   rust-vmm/vm-virtio at tag virtio-queue-v0.7.1 (or its crates/virtio-queue)
#   --vmm-sys-util-src DIR   rust-vmm/vmm-sys-util 0.11.x; needed where Debian's registry has none
#   --hvkit-bench PATH       default: build/dev/bench/hot_paths_bench of this repository
#   --rounds R (10), --samples N (15), --sample-ms M (10), --filter TEXT: passed to both programs
#   --exclude TEXT           drop every shape whose name contains TEXT, on both sides (repeatable)
#   --build-dir DIR          build the peer there and keep it (default: a temporary directory)
#   --raw-dir DIR            keep each round's output there (default: a temporary directory)
#   --lock-runs              hold the build lock while measuring too, so no build runs beside it
# The cargo build runs under flock on $HVKIT_BUILD_LOCK (default /tmp/hvkit-build.lock). cargo and
# rustc are taken from PATH (or $CARGO / $RUSTC).
# Exit status: 0 with the table; 1 when a tool, a source, a program or a shape's partner is missing or
# a program fails; 2 on a usage error.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
peer_src="$here/rust-vmm-peer"
registry=/usr/share/cargo/registry

die() {
  echo "compare_rust_vmm: $*" >&2
  exit 1
}
usage() {
  sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

virtio_queue_src='' vmm_sys_util_src='' hvkit_bench="$root/build/dev/bench/hot_paths_bench"
rounds=10 samples=15 sample_ms=10 filter='' markdown=0 build_dir='' raw_dir='' combine_dir='' lock_runs=0
excludes=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --markdown) markdown=1; shift; continue ;;
    --lock-runs) lock_runs=1; shift; continue ;;
    -h | --help) usage ;;
  esac
  [ "$#" -ge 2 ] || usage
  case "$1" in
    --virtio-queue-src) virtio_queue_src="$2" ;;
    --vmm-sys-util-src) vmm_sys_util_src="$2" ;;
    --hvkit-bench) hvkit_bench="$2" ;;
    --rounds) rounds="$2" ;;
    --samples) samples="$2" ;;
    --sample-ms) sample_ms="$2" ;;
    --filter) filter="$2" ;;
    --exclude) excludes+=("$2") ;;
    --build-dir) build_dir="$2" ;;
    --raw-dir) raw_dir="$2" ;;
    --combine) combine_dir="$2" ;;
    *) usage ;;
  esac
  shift 2
done
for n in "$rounds" "$samples" "$sample_ms"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
done

# combine DIR: pairs the rounds in DIR and prints the table (on stdout), or fails naming the shape.
combine() {
  local dir="$1" hvkit_files=() rust_files=() f
  for f in "$dir"/hvkit.*.tsv; do [ -e "$f" ] && hvkit_files+=("$f"); done
  for f in "$dir"/rust-vmm.*.tsv; do [ -e "$f" ] && rust_files+=("$f"); done
  [ "${#hvkit_files[@]}" -gt 0 ] || die "no hvkit rounds (hvkit.<round>.tsv) in $dir"
  [ "${#rust_files[@]}" -gt 0 ] || die "no rust-vmm rounds (rust-vmm.<round>.tsv) in $dir"
  local excluded
  excluded="$(printf '%s\n' "${excludes[@]+"${excludes[@]}"}")"
  EXCLUDED="$excluded" awk -v markdown="$markdown" \
    -v hvkit_rounds="${#hvkit_files[@]}" -v rust_rounds="${#rust_files[@]}" '
    function fail(message) { print "compare_rust_vmm: " message > "/dev/stderr"; failed = 1; exit 1 }
    function median(list,    values, n, i, j, t) {
      n = split(list, values, " ")
      for (i = 2; i <= n; i++)  # insertion sort: a handful of rounds
        for (j = i; j > 1 && values[j - 1] + 0 > values[j] + 0; j--) { t = values[j]; values[j] = values[j - 1]; values[j - 1] = t }
      return n % 2 ? values[(n + 1) / 2] : (values[n / 2] + values[n / 2 + 1]) / 2
    }
    function drop(name,    i) {
      for (i = 1; i <= n_excluded; i++) if (index(name, excluded_list[i])) return 1
      return 0
    }
    BEGIN { CONVFMT = "%.10g"; n_excluded = split(ENVIRON["EXCLUDED"], excluded_list, "\n") }
    FNR == 1 { side = FILENAME ~ /\/hvkit\.[^\/]*\.tsv$/ ? "hvkit" : "rust"; delete in_round }
    /^#/ || /^[ \t]*$/ { next }
    {
      if (NF != 7 || $2 !~ /^[0-9]+(\.[0-9]+)?$/ || $4 !~ /^[1-9][0-9]*$/ || $2 + 0 <= 0)
        fail(FILENAME ":" FNR ": not a shape line (name, median ns, min ns, ops, unit, iterations, samples): " $0)
      if (drop($1)) next
      if ($1 in in_round) fail(FILENAME ": shape " $1 " appears twice")
      in_round[$1] = 1
      key = side SUBSEP $1
      if (!(key in count)) {
        if (side == "hvkit") hvkit_order[++n_hvkit] = $1; else rust_order[++n_rust] = $1
        ops[key] = $4; unit[key] = $5
      } else if (ops[key] != $4 || unit[key] != $5) {
        fail(FILENAME ": shape " $1 " changed its operations from " ops[key] " " unit[key] " to " $4 " " $5)
      }
      count[key]++
      per_op[key] = per_op[key] " " ($2 / $4)
    }
    END {
      if (failed) exit 1
      for (i = 1; i <= n_hvkit; i++) if (count["hvkit", hvkit_order[i]] != hvkit_rounds)
        fail("shape " hvkit_order[i] " is in " count["hvkit", hvkit_order[i]] " of the " hvkit_rounds " hvkit rounds")
      for (i = 1; i <= n_rust; i++) if (count["rust", rust_order[i]] != rust_rounds)
        fail("shape " rust_order[i] " is in " count["rust", rust_order[i]] " of the " rust_rounds " rust-vmm rounds")
      # each rust-vmm row names its hvkit partner
      for (i = 1; i <= n_rust; i++) {
        r = rust_order[i]; h = r
        if (r ~ /\/rust_mutex$/) { h = substr(r, 1, length(r) - length("/rust_mutex")) "/locked" }
        else if (r ~ /\/rust_[A-Za-z0-9_]+$/) { h = r; sub(/\/rust_[A-Za-z0-9_]+$/, "", h) }
        if (!(("hvkit", h) in count)) fail("rust-vmm shape " r " has no hvkit shape " h)
        if (ops["hvkit", h] != ops["rust", r] || unit["hvkit", h] != unit["rust", r])
          fail("hvkit " h " counts " ops["hvkit", h] " " unit["hvkit", h] " per iteration, rust-vmm " r " " ops["rust", r] " " unit["rust", r])
        partners[h] = partners[h] (partners[h] == "" ? "" : " ") r
        if (r == h || r ~ /\/rust_mutex$/) same_work[h] = r
      }
      if (n_hvkit == 0) fail("no hvkit shapes (filter or exclusions left none)")
      # hvkit "X/locked/<path>" (the locked device reached another way) also pairs with "X/rust_mutex"
      for (i = 1; i <= n_hvkit; i++) {
        h = hvkit_order[i]
        if ((h in same_work) || h !~ /\/locked\/[A-Za-z0-9_]+$/) continue
        r = h; sub(/\/locked\/[A-Za-z0-9_]+$/, "/rust_mutex", r)
        if (!(("rust", r) in count)) continue
        if (ops["hvkit", h] != ops["rust", r] || unit["hvkit", h] != unit["rust", r])
          fail("hvkit " h " counts " ops["hvkit", h] " " unit["hvkit", h] " per iteration, rust-vmm " r " " ops["rust", r] " " unit["rust", r])
        same_work[h] = r
      }
      for (i = 1; i <= n_hvkit; i++)
        if (!(hvkit_order[i] in same_work)) {
          h = hvkit_order[i]; r = h
          if (h ~ /\/locked$/) r = substr(h, 1, length(h) - length("/locked")) "/rust_mutex"
          fail("hvkit shape " h " has no rust-vmm shape " r)
        }
      if (markdown) {
        print "| shape | unit | hvkit ns/op | rust-vmm ns/op | hvkit / rust-vmm |"
        print "|---|---|---:|---:|---:|"
      } else {
        printf "%-52s %-6s %12s %15s %17s\n", "shape", "unit", "hvkit ns/op", "rust-vmm ns/op", "hvkit / rust-vmm"
      }
      for (i = 1; i <= n_hvkit; i++) {
        h = hvkit_order[i]; hv = median(per_op["hvkit", h])
        n = split(same_work[h] " " partners[h], rows, " ")
        delete shown
        for (j = 1; j <= n; j++) {
          r = rows[j]
          if (r in shown) continue
          shown[r] = 1
          rv = median(per_op["rust", r])
          label = h
          if (r ~ /\/rust_mutex$/) label = h " ~ rust_mutex"
          else if (r != h) label = r
          if (markdown) printf "| %s | %s | %.2f | %.2f | %.2f |\n", label, unit["hvkit", h], hv, rv, hv / rv
          else printf "%-52s %-6s %12.2f %15.2f %17.2f\n", label, unit["hvkit", h], hv, rv, hv / rv
        }
      }
    }
  ' "${hvkit_files[@]}" "${rust_files[@]}"
}

if [ -n "$combine_dir" ]; then
  [ -d "$combine_dir" ] || die "--combine: $combine_dir is not a directory"
  combine "$combine_dir"
  exit 0
fi

# --- tools and sources -----------------------------------------------------------------------------
[ -n "$virtio_queue_src" ] || die "--virtio-queue-src DIR is required (git clone --branch virtio-queue-v0.7.1 https://github.com/rust-vmm/vm-virtio)"
# package_field MANIFEST FIELD: the [package] section's FIELD ("name", "version").
package_field() {
  awk -v field="$2" '
    /^\[/ { in_package = ($0 == "[package]") }
    in_package && $1 == field && $2 == "=" { value = $3; gsub(/"/, "", value); print value; exit }
  ' "$1"
}
# crate_dir DIR NAME: DIR itself or DIR/crates/NAME, whichever is crate NAME.
crate_dir() {
  local dir
  for dir in "$1" "$1/crates/$2"; do
    if [ -f "$dir/Cargo.toml" ] && [ "$(package_field "$dir/Cargo.toml" name)" = "$2" ]; then
      (cd "$dir" && pwd)
      return 0
    fi
  done
  return 1
}
# provenance DIR: the git commit of DIR's checkout, if it is one.
provenance() {
  local top
  if top="$(git -C "$1" rev-parse --show-toplevel 2> /dev/null)"; then
    echo "git checkout $top at $(git -C "$1" rev-parse HEAD) ($(git -C "$1" describe --tags --always --dirty 2> /dev/null || echo no tag))"
  else
    echo "not a git checkout"
  fi
}

[ -d "$virtio_queue_src" ] || die "--virtio-queue-src $virtio_queue_src is not a directory"
virtio_queue_dir="$(crate_dir "$virtio_queue_src" virtio-queue)" ||
  die "$virtio_queue_src is neither the virtio-queue crate nor a vm-virtio checkout holding crates/virtio-queue"
virtio_queue_version="$(package_field "$virtio_queue_dir/Cargo.toml" version)"
[ "$virtio_queue_version" = 0.7.1 ] ||
  die "$virtio_queue_dir is virtio-queue $virtio_queue_version; the peer is written for 0.7.1 (tag virtio-queue-v0.7.1)"

cargo="${CARGO:-cargo}"
rustc="${RUSTC:-rustc}"
command -v "$cargo" > /dev/null || die "cargo not found (Debian: apt-get install cargo rustc, or scripts/setup.sh --bench-peers)"
command -v "$rustc" > /dev/null || die "rustc not found (Debian: apt-get install cargo rustc, or scripts/setup.sh --bench-peers)"
command -v flock > /dev/null || die "flock not found (Debian: util-linux)"
[ -x "$hvkit_bench" ] || die "hvkit benchmark $hvkit_bench is missing: cmake --build --preset dev --target hot_paths_bench (or --hvkit-bench PATH)"
for crate in vm-memory-0.10.0 vm-superio-0.7.0 log-0.4 bitflags-1. libc-0.2; do
  compgen -G "$registry/$crate*" > /dev/null ||
    die "$registry has no $crate crate: apt-get install librust-vm-memory-dev librust-vm-superio-dev librust-log-dev librust-bitflags-dev (scripts/setup.sh --bench-peers)"
done

patches="virtio-queue = { path = \"$virtio_queue_dir\" }"
if [ -n "$vmm_sys_util_src" ]; then
  [ -d "$vmm_sys_util_src" ] || die "--vmm-sys-util-src $vmm_sys_util_src is not a directory"
  vmm_sys_util_dir="$(crate_dir "$vmm_sys_util_src" vmm-sys-util)" || die "$vmm_sys_util_src is not the vmm-sys-util crate"
  vmm_sys_util_version="$(package_field "$vmm_sys_util_dir/Cargo.toml" version)"
  [[ "$vmm_sys_util_version" == 0.11.* ]] ||
    die "$vmm_sys_util_dir is vmm-sys-util $vmm_sys_util_version; virtio-queue 0.7.1 needs 0.11"
  patches+=$'\n'"vmm-sys-util = { path = \"$vmm_sys_util_dir\" }"
  vmm_sys_util_from="$vmm_sys_util_dir, $(provenance "$vmm_sys_util_dir")"
else
  compgen -G "$registry/vmm-sys-util-0.11.*" > /dev/null ||
    die "$registry has no vmm-sys-util 0.11 (Debian 12 does not package it): pass --vmm-sys-util-src DIR (git clone --branch v0.11.1 https://github.com/rust-vmm/vmm-sys-util)"
  vmm_sys_util_from="$registry"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/compare_rust_vmm.XXXXXX")"
trap 'rm -rf "$work"' EXIT
build_dir="${build_dir:-$work/build}"
raw_dir="${raw_dir:-$work/rounds}"
mkdir -p "$build_dir/src" "$build_dir/.cargo" "$raw_dir"
build_dir="$(cd "$build_dir" && pwd)"
rm -f "$raw_dir"/hvkit.*.tsv "$raw_dir"/rust-vmm.*.tsv

# --- build the peer --------------------------------------------------------------------------------
cp "$peer_src/src/main.rs" "$build_dir/src/main.rs"
cp "$peer_src/.cargo/config.toml" "$build_dir/.cargo/config.toml"
{
  cat "$peer_src/Cargo.toml"
  printf '\n# Written by bench/compare_rust_vmm.sh: the sources given on its command line.\n[patch.crates-io]\n%s\n' "$patches"
} > "$build_dir/Cargo.toml"
rm -f "$build_dir/Cargo.lock"  # resolved afresh: the sources may differ from the last build's
lock="${HVKIT_BUILD_LOCK:-/tmp/hvkit-build.lock}"
echo "compare_rust_vmm: building the rust-vmm peer in $build_dir (under $lock)" >&2
if ! (cd "$build_dir" && flock "$lock" "$cargo" build --release --offline --quiet > "$work/cargo.log" 2>&1); then
  tail -n 40 "$work/cargo.log" >&2
  die "cargo build of the rust-vmm peer failed (log above)"
fi
peer="$build_dir/target/release/hvkit-rust-vmm-peer"
[ -x "$peer" ] || die "the build left no $peer"

# lock_version NAME: the version Cargo.lock resolved for crate NAME.
lock_version() {
  awk -v name="$1" '$1 == "name" && $3 == "\"" name "\"" { getline; gsub(/"/, "", $3); print $3; exit }' "$build_dir/Cargo.lock"
}

# --- run: whole processes, alternating A B B A ... -----------------------------------------------
filter_args=()
[ -n "$filter" ] && filter_args=(--filter "$filter")
run_side() {  # run_side hvkit|rust-vmm ROUND
  local out="$raw_dir/$1.$2.tsv" cmd
  if [ "$1" = hvkit ]; then
    cmd=("$hvkit_bench" --peer-format --samples "$samples" --sample-ms "$sample_ms" "${filter_args[@]+"${filter_args[@]}"}")
  else
    cmd=("$peer" --samples "$samples" --sample-ms "$sample_ms" "${filter_args[@]+"${filter_args[@]}"}")
  fi
  if ! "${cmd[@]}" > "$out" 2> "$work/stderr"; then
    tail -n 20 "$work/stderr" >&2
    die "round $2: ${cmd[*]} failed"
  fi
}
if [ "$lock_runs" = 1 ]; then
  exec {lock_fd}> "$lock"
  flock "$lock_fd"
fi
for ((round = 1; round <= rounds; round++)); do
  echo "compare_rust_vmm: round $round of $rounds" >&2
  if ((round % 2)); then
    run_side hvkit "$round"
    run_side rust-vmm "$round"
  else
    run_side rust-vmm "$round"
    run_side hvkit "$round"
  fi
done

table="$(combine "$raw_dir")"

# --- header and table ------------------------------------------------------------------------------
header=(
  "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  "host: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs, $(uname -sr)"
  "method: $rounds rounds, whole processes alternating (A B B A ...); each run $samples samples of ~$sample_ms ms per shape; per shape, the median over rounds of (median ns/iteration ÷ operations/iteration)${filter:+; filter \"$filter\"}${excludes[*]:+; excluding \"${excludes[*]}\"}"
  "hvkit: $hvkit_bench, $(provenance "$root")"
  "rust-vmm peer: $("$rustc" -V), $("$cargo" -V); profile opt-level 3, lto, codegen-units 1"
  "crates: virtio-queue $(lock_version virtio-queue) (from $virtio_queue_dir, $(provenance "$virtio_queue_dir")), vm-memory $(lock_version vm-memory), vm-superio $(lock_version vm-superio), vmm-sys-util $(lock_version vmm-sys-util) (from $vmm_sys_util_from)"
  "pairs: X/locked (hvkit's thread-safe adaptor) ~ rust-vmm X/rust_mutex (std::sync::Mutex); X/rust_<api> is hvkit's X beside another rust-vmm API"
)
for line in "${header[@]}"; do
  if [ "$markdown" = 1 ]; then echo "- $line"; else echo "# $line"; fi
done
echo
echo "$table"
