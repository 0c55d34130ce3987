#!/usr/bin/env bash
# Checks hvkit's layering rules (docs/architecture.md, "Layering rules") on every #include of an hvkit
# header, so that a backend, device or ABI detail cannot leak into a layer that must not know it
# without the build noticing. Bash, grep and find only: a fresh Debian 12 may have no python3.
#
#   scripts/check_layering.sh [ROOT]     ROOT defaults to the repository this script lives in
#
# Exit 0 with a one-line summary when every include is allowed; exit 1 after printing one line per
# forbidden include ("file:line: <layer> may not include <header> (docs/architecture.md)");
# exit 2 on a usage error.
#
# What counts as an hvkit include, and who owns it:
#   #include "hv/..." or <hv/...>     the public header at <dir>/include/hv/... (its layer: <dir>)
#   #include "x.hpp" / "../y/x.hpp"   resolved like the compiler: next to the includer first, else the
#                                     one file of that name in the tree (a PRIVATE include path, e.g.
#                                     mshv_abi.hpp from mshv/abi, kvm_abi.hpp from kvm/src)
#   #include <linux/kvm.h>, <linux/mshv.h>   the kernel ABIs, each allowed in its ABI layer only
# Other includes (the standard library, GSL, generated files) are not checked.
# Not handled: includes inside /* */ block comments are checked as if live; macros as include names.
set -euo pipefail

if [ "$#" -gt 1 ]; then
  echo "usage: $0 [ROOT]" >&2
  exit 2
fi
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
if [ ! -d "$root" ]; then
  echo "check_layering: $root is not a directory" >&2
  exit 2
fi
cd "$root"

# Which layers' PUBLIC headers each layer may include, besides its own. A token starting with "hv/" is
# one header rather than a whole layer. Keep in step with docs/architecture.md.
everything_public="hypervisor kvm mshv mshv/sim backends devices virtio vhost conformance vmm"
declare -A allow=(
  [hypervisor]=""
  [kvm]="hypervisor"
  [mshv]="hypervisor mshv/abi"
  [mshv/abi]=""
  # The simulator implements the backend's system-call seam (MshvSystem) on hvkit's KVM backend; it
  # shares the ABI with mshv/src and nothing else of it.
  [mshv/sim]="hypervisor kvm mshv/abi hv/mshv/system.hpp"
  [backends]="hypervisor kvm mshv mshv/sim"
  [devices]="hypervisor"
  # The device-model contracts, never a legacy device model.
  [virtio]="hypervisor hv/dev/bus_device.hpp hv/dev/interrupt_line.hpp hv/dev/byte_sink.hpp hv/dev/i2c_bus.hpp"
  # vhost-user serves and proxies virtio devices: virtio and the contracts virtio uses, nothing else.
  [vhost]="hypervisor virtio hv/dev/bus_device.hpp hv/dev/interrupt_line.hpp hv/dev/byte_sink.hpp hv/dev/i2c_bus.hpp"
  # The daemons are programs: they build a device from its parts (an I2C adapter's buses) and serve it.
  [vhost/daemons]="hypervisor devices virtio vhost"
  # Tools that drive a vhost-user backend as a frontend would (the load generator): the library only.
  [vhost/tools]="hypervisor virtio vhost"
  [conformance]="hypervisor"
  [vmm]="$everything_public"
  [hvctl]="$everything_public"
  [bench]="$everything_public"
  [examples]="$everything_public"
)
# tests/, fuzz/ and testing/ folders (and bench/) may also include these, to get a real hypervisor.
test_extra="kvm mshv mshv/sim backends"
# Kernel ABI headers and the layers that may include them.
declare -A kernel_abi=(
  [linux/kvm.h]="kvm bench"   # bench: the bare-ioctl baseline hvkit is measured against
  [linux/mshv.h]="mshv/abi"
  [linux/i2c-dev.h]="devices"  # the host I2C bus (devices/src/linux_i2c_dev.cpp)
  [linux/i2c.h]="devices"
)

# classify PATH: sets `layer` (empty if none) and `kind` (public | private | testing) of a file. These
# are the layer folders; a C++ file anywhere else (outside build/ and .git/) is reported, so a new
# folder cannot escape the rules by being unknown to this script.
classify() {
  case "$1" in
    mshv/abi/*) layer=mshv/abi ;;
    mshv/sim/*) layer=mshv/sim ;;
    mshv/*) layer=mshv ;;
    vhost/daemons/*) layer=vhost/daemons ;;
    vhost/tools/*) layer=vhost/tools ;;
    hypervisor/* | kvm/* | backends/* | devices/* | virtio/* | vhost/* | conformance/* | vmm/* | hvctl/* | bench/* | examples/*)
      layer="${1%%/*}" ;;
    *) layer="" ;;
  esac
  case "/$1" in
    */tests/* | */fuzz/* | */testing/*) kind=testing ;;
    /mshv/abi/* | */include/*) kind=public ;;
    *) kind=private ;;
  esac
}

# normalize PATH: sets `normalized` to PATH without "." and ".." segments, or empty if it leaves ROOT.
normalize() {
  local -a parts out=()
  local part
  IFS=/ read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    case "$part" in
      '' | .) ;;
      ..)
        if [ "${#out[@]}" -eq 0 ]; then
          normalized=""
          return
        fi
        unset 'out[${#out[@]}-1]' ;;
      *) out+=("$part") ;;
    esac
  done
  normalized="$(IFS=/; echo "${out[*]}")"
}

contains_word() {  # contains_word WORD LIST
  case " $2 " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

# Every source file, relative to ROOT, outside any build/ directory and .git.
mapfile -d '' all_files < <(find . \( -name build -o -name .git \) -prune -o -type f \
  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.inc' -o -name '*.S' \) -print0 | sed -z 's|^\./||' | sort -z)

declare -A is_file=()      # path -> 1
declare -A public_hv=()    # "hv/x/y.hpp" -> the file providing it
declare -A by_name=()      # basename -> space-separated paths (for private include paths)
files=()
violations=0
for f in "${all_files[@]}"; do
  classify "$f"
  if [ -z "$layer" ]; then
    echo "$f: not in any layer of docs/architecture.md (add its folder's rule to scripts/check_layering.sh)"
    violations=$((violations + 1))
    continue
  fi
  files+=("$f")
  is_file[$f]=1
  by_name[${f##*/}]+="$f "
  if [[ "$f" == */include/hv/* ]]; then public_hv["hv/${f#*/include/hv/}"]="$f"; fi
done
# Generated at build time from cmake/version.hpp.in and installed with hypervisor/'s headers.
if [ -f cmake/version.hpp.in ]; then public_hv["hv/version.hpp"]="hypervisor/include/hv/version.hpp"; fi

report() {  # report FILE LINE LABEL HEADER
  echo "$1:$2: $3 may not include $4 (docs/architecture.md)"
  violations=$((violations + 1))
}

includes=0
include_re='^([^:]+):([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^>"]+)[>"]'
while IFS= read -r hit; do
  [[ "$hit" =~ $include_re ]] || continue
  src="${BASH_REMATCH[1]}" line="${BASH_REMATCH[2]}" delim="${BASH_REMATCH[3]}" header="${BASH_REMATCH[4]}"
  classify "$src"
  src_layer="$layer" src_kind="$kind"
  testish=false
  if [ "$src_kind" = testing ] || [ "$src_layer" = bench ]; then testish=true; fi
  label="$src_layer"
  if [ "$src_kind" = testing ]; then label="$src_layer (tests)"; fi

  # Kernel ABI headers.
  if [ "$delim" = '<' ] && [ -n "${kernel_abi[$header]+set}" ]; then
    includes=$((includes + 1))
    contains_word "$src_layer" "${kernel_abi[$header]}" || report "$src" "$line" "$label" "$header"
    continue
  fi

  # Resolve the header to the file that provides it, as the compiler would.
  owner=""
  if [ "$delim" = '"' ]; then
    normalize "$(dirname "$src")/$header"
    if [ -n "$normalized" ] && [ -n "${is_file[$normalized]+set}" ]; then owner="$normalized"; fi
  fi
  if [ -z "$owner" ] && [[ "$header" == hv/* ]]; then
    owner="${public_hv[$header]-}"
    if [ -z "$owner" ]; then
      includes=$((includes + 1))
      echo "$src:$line: $label includes $header, which no layer provides (docs/architecture.md)"
      violations=$((violations + 1))
      continue
    fi
  fi
  if [ -z "$owner" ] && [ "$delim" = '"' ] && [[ "$header" != */* ]]; then
    read -ra candidates <<<"${by_name[$header]-}"
    if [ "${#candidates[@]}" -eq 1 ]; then owner="${candidates[0]}"; fi
  fi
  [ -n "$owner" ] || continue  # not an hvkit header (generated, or a system header)
  includes=$((includes + 1))

  classify "$owner"
  # Test code stays out of what ships, even within one layer.
  if [ "$kind" = testing ] && ! $testish; then report "$src" "$line" "$label" "$header"; continue; fi
  [ "$layer" = "$src_layer" ] && continue
  # Another layer's private headers (src/, guests/) are its own business.
  if [ "$kind" = private ]; then report "$src" "$line" "$label" "$header"; continue; fi
  allowed="${allow[$src_layer]}"
  if $testish; then allowed="$allowed $test_extra"; fi
  if contains_word "$layer" "$allowed" || contains_word "$header" "$allowed"; then continue; fi
  report "$src" "$line" "$label" "$header"
done < <(if [ "${#files[@]}" -gt 0 ]; then
           printf '%s\0' "${files[@]}" |
             xargs -0 grep -nHE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]+[>"]' || true
         fi)

if [ "$violations" -gt 0 ]; then
  echo "check_layering: $violations forbidden include(s) or unplaced file(s) in $root; the rules are in docs/architecture.md" >&2
  exit 1
fi
echo "check_layering: ok: ${#files[@]} files, $includes hvkit includes checked against docs/architecture.md"
