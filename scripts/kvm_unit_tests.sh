#!/usr/bin/env bash
# Runs the x86 tests of kvm-unit-tests (https://gitlab.com/kvm-unit-tests/kvm-unit-tests) under
# `hvctl run --multiboot` and, for reference, under QEMU's microvm machine, and prints a table:
# test, QEMU, hvkit kvm, hvkit mshv-sim, each PASS / FAIL / SKIP with the reason for a failure.
#
#   scripts/kvm_unit_tests.sh KUT_DIR [--backend NAME]... [--no-qemu] [--hvctl PATH] [--timeout S]
#                             [--tests REGEX] [--memory MiB]
#
# KUT_DIR is a kvm-unit-tests checkout built OUTSIDE this repository with
# `./configure --arch=x86_64 && make` (kvm-unit-tests is not vendored or packaged). This script is NOT
# part of the test command (ctest): kvm-unit-tests cannot be downloaded there. docs/conformance.md
# records its results, the kvm-unit-tests commit and the QEMU version.
#
# Each test runs as x86/unittests.cfg says: its .flat file, `smp` vCPUs and `test_args` as the
# command line, without firmware: the .flat (a Multiboot ELF32) is handed over directly, with an
# environment file as the first module instead of fw_cfg (NR_CPUS, MEMSIZE, MEMLIMIT, TEST_DEVICE=0)
# and QEMU's isa-debug-exit at 0xf4. Both sides get the same memory (the test's `-m` when its
# qemu_params give one, else --memory, default 256 MiB) and the host CPU model (QEMU: -cpu
# host,-arch-capabilities, as QEMU 7.2 aborts setting that MSR on a KVM-on-PVM host);
# the rest of qemu_params (CPU models and flags, -machine options) is not applied on either side and is
# listed under "not applied". Tests for i386 only or for TCG only are left out.
#
# Results: exit status 1 ((0 << 1) | 1) is PASS, 77 (what kvm-unit-tests exits with when its tests
# skip: it writes 38) is SKIP with the last line, anything else FAIL with the test's first FAIL line or
# the runner's last message (for a timeout, the last line: QEMU stops a guest KVM cannot run with
# "KVM internal error" and waits, where hvctl exits 4 naming the instruction); --timeout S
# (default 30 s, or the cfg's timeout when lower) ends a run as FAIL "timeout".
set -u -o pipefail

usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
kut=$1
shift
backends=()
qemu=1
hvctl=""
timeout_s=30
filter='.'
memory=256
while [ $# -gt 0 ]; do
  case $1 in
    --backend) backends+=("$2"); shift 2 ;;
    --no-qemu) qemu=0; shift ;;
    --hvctl) hvctl=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --tests) filter=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    *) usage ;;
  esac
done
[ ${#backends[@]} -gt 0 ] || backends=(kvm mshv-sim)
here=$(cd "$(dirname "$0")/.." && pwd)
[ -n "$hvctl" ] || hvctl=$here/build/dev/hvctl/hvctl
cfg=$kut/x86/unittests.cfg
[ -f "$cfg" ] || { echo "no $cfg: give a built kvm-unit-tests checkout" >&2; exit 2; }
[ -x "$hvctl" ] || { echo "no hvctl at $hvctl (--hvctl PATH)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# One line per test: name|file|smp|test_args|qemu_params|arch|accel|timeout
parse_cfg() {
  awk '
    function flush() { if (name != "") print name "|" file "|" smp "|" args "|" params "|" arch "|" accel "|" tmo }
    /^\[.*\]$/ { flush(); name = substr($0, 2, length($0) - 2); file = ""; smp = "1"; args = ""; params = "";
                 arch = ""; accel = ""; tmo = ""; next }
    /^[a-z_]+ *=/ {
      key = $0; sub(/ *=.*/, "", key); value = $0; sub(/^[a-z_]+ *= */, "", value)
      if (key == "file") file = value; else if (key == "smp") smp = value
      else if (key == "test_args" || key == "extra_params") { gsub(/^'"'"'|'"'"'$/, "", value); args = value }
      else if (key == "qemu_params") params = value; else if (key == "arch") arch = value
      else if (key == "accel") accel = value; else if (key == "timeout") tmo = value
    }
    END { flush() }' "$cfg"
}

# classify STATUS OUTPUT_FILE: prints PASS, SKIP or "FAIL (reason)".
classify() {
  local status=$1 out=$2 reason
  local last
  last=$(tr -d '\r' <"$out" | grep -a -v '^\s*$' | tail -n1 | cut -c1-90)
  case $status in
    1) echo PASS; return ;;
    77) echo "SKIP (${last//|//})"; return ;;
    124 | 137)
      # QEMU reports "KVM internal error" and waits; its own "terminating on signal" says nothing.
      last=$(grep -a -v -e '^\s*$' -e 'terminating on signal' "$out" | grep -a -m1 -i 'internal error' || true)
      [ -n "$last" ] || last=$(grep -a -v -e '^\s*$' -e 'terminating on signal' "$out" | tail -n1 | cut -c1-90)
      echo "FAIL (timeout; last: ${last//|//})"
      return ;;
  esac
  reason=$(tr -d '\r' <"$out" | grep -a -m1 '^FAIL' | cut -c1-90)
  [ -n "$reason" ] || reason=$last
  echo "FAIL (status $status: ${reason//|//})"
}

run_hvkit() {  # BACKEND FLAT SMP ARGS MEM ENV TIMEOUT OUT
  timeout -k 5 "$7" "$hvctl" run --backend "$1" --memory "$5" --vcpus "$3" --console-filter off \
    --isa-debug-exit 0xf4 --multiboot "$2" --module "$6" ${4:+--cmdline "$4"} >"$8" 2>&1 </dev/null
}

run_qemu() {  # FLAT SMP ARGS MEM ENV TIMEOUT OUT
  timeout -k 5 "$6" qemu-system-x86_64 -M microvm -accel kvm -cpu host,-arch-capabilities -m "$4" -smp "$2" -nodefaults \
    -no-reboot -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel "$1" -initrd "$5" ${3:+-append "$3"} >"$7" 2>&1 </dev/null
}

header="| test | QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') microvm |"
for b in "${backends[@]}"; do header+=" hvkit $b |"; done
header+=" not applied |"
echo "$header"
echo "$header" | sed 's/[^|]/-/g; s/--*/---/g'
while IFS='|' read -r name file smp args params arch accel tmo; do
  [[ $name =~ $filter ]] || continue
  [ "$arch" != i386 ] || continue
  [ "$accel" != tcg ] || continue
  flat=$kut/x86/$file
  row="| $name |"
  t=$timeout_s
  [ -n "$tmo" ] && [[ $tmo =~ ^[0-9]+$ ]] && [ "$tmo" -lt "$t" ] && t=$tmo
  mem=$memory
  [[ $params =~ -m\ ([0-9]+)([gG]?) ]] && { mem=${BASH_REMATCH[1]}; [ -n "${BASH_REMATCH[2]}" ] && mem=$((mem * 1024)); }
  if ! [[ $smp =~ ^[0-9]+$ ]] || [ ! -f "$flat" ]; then
    cells=$(( ${#backends[@]} + qemu ))
    why="SKIP (smp '$smp' or $file missing)"
    for _ in $(seq "$cells"); do row+=" $why |"; done
    [ $qemu = 1 ] || row+=" - |"
    echo "$row | $params |"
    continue
  fi
  env=$work/$name.env
  printf 'NR_CPUS=%s\nMEMSIZE=%s\nMEMLIMIT=%s\nTEST_DEVICE=0\n' "$smp" "$mem" "$mem" >"$env"
  if [ $qemu = 1 ]; then
    (run_qemu "$flat" "$smp" "$args" "$mem" "$env" "$t" "$work/out") 2>/dev/null
    row+=" $(classify $? "$work/out") |"
  else
    row+=" - |"
  fi
  for b in "${backends[@]}"; do
    (run_hvkit "$b" "$flat" "$smp" "$args" "$mem" "$env" "$t" "$work/out") 2>/dev/null
    row+=" $(classify $? "$work/out") |"
  done
  rest=$(sed -E 's/-m [0-9]+[gG]?//' <<<"$params" | xargs)
  echo "$row ${rest:--} |"
done < <(parse_cfg)
