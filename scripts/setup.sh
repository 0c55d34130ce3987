#!/usr/bin/env bash
# Installs hvkit's build and test dependencies from Debian 12's archive.
# Idempotent: installs only what is missing, and runs `apt-get update` only when it must.
#   scripts/setup.sh                  the build and test dependencies
#   scripts/setup.sh --bench-peers    also what bench/compare_rust_vmm.sh needs to build its rust-vmm
#                                     peer offline: Rust and the crate sources Debian packages
set -euo pipefail

packages=(
  cmake g++ make binutils git
  libmsgsl-dev libexpected-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  clang-tidy-14 clang-format-14
  # libseccomp: the vhost-user daemons' system-call filter, vhost/daemons and docs/sandbox.md
  libseccomp-dev
  # QEMU for the interop tests: vmm/tests/qemu_virtio_blk.sh, and vhost-user, issue #15
  qemu-system-x86 qemu-utils
  # The Linux test kernel, vmm/tests/linux and docs/linux-boot.md, issue #21: the kernel's source,
  # xz-utils to unpack it, patch for the test kernel's patches, and what the kernel's build needs:
  # flex and bison for Kconfig, bc for the timeconst header, libelf-dev for objtool
  linux-source-6.1 xz-utils patch flex bison bc libelf-dev
)

case "${1:-}" in
  "") ;;
  --bench-peers)
    # vm-memory 0.10.0 and vm-superio 0.7.0, and the registry crates virtio-queue 0.7.1 and
    # vmm-sys-util 0.11 depend on (log, bitflags 1); virtio-queue itself is not packaged.
    packages+=(cargo rustc librust-vm-memory-dev librust-vm-superio-dev librust-log-dev librust-bitflags-dev)
    ;;
  *)
    echo "usage: $0 [--bench-peers]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
