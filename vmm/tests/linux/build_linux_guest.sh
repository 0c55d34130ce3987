#!/bin/bash
# build_linux_guest.sh: builds hvkit's test kernel and its initramfs from Debian's linux-source-6.1
# package, into OUT:
#   OUT/vmlinux          the kernel as an ELF with a PVH entry note (QEMU -M microvm -kernel, hvctl)
#   OUT/bzImage          the same kernel as a bzImage (the Linux boot protocol)
#   OUT/initramfs.cpio   an uncompressed newc archive holding /init (init.c) and /dev/console
# The source is extracted into OUT/src, patched with patches/*.patch, configured as `make tinyconfig`
# plus guest.config, and built out of tree in OUT/kbuild. Cached, stage by stage: when none of the
# inputs (the tarball, this directory's files) changed since the last successful build, it does
# nothing; changed patches are taken back and reapplied, and a changed fragment reconfigures, in
# the same tree, so that make rebuilds only what they touch; the tarball changing starts afresh.
# Exit status: 0 built or up to date, 1 failed, 77 skipped (the tarball is not installed).
#
#   build_linux_guest.sh OUT
# Environment: LINUX_SOURCE_TARBALL (default /usr/src/linux-source-6.1.tar.xz), HVKIT_LINUX_JOBS
# (make -j, default 2), CC (for the init, default cc).
#
# It takes no lock: run by hand, wrap it in `flock /tmp/hvkit-build.lock`; under ctest, the run
# that holds the lock started ctest, and the test is RUN_SERIAL.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
jobs=${HVKIT_LINUX_JOBS:-2}
if ! [ -r "$tarball" ]; then
  echo "SKIPPED: no $tarball (scripts/setup.sh installs linux-source-6.1)"
  exit 77
fi

# What each stage's result depends on, as one hash per stage.
tarball_id=$(stat -c '%n %s %Y' "$tarball")
patches_key=$(cat "$here"/patches/*.patch | sha256sum | cut -d' ' -f1)
config_key=$(cat "$here/guest.config" | sha256sum | cut -d' ' -f1)
kernel_key=$( (echo "$tarball_id $patches_key $config_key"; cat "$here/build_linux_guest.sh") | sha256sum | cut -d' ' -f1)
initramfs_key=$( (echo "$kernel_key"; cat "$here/init.c" "$here/initramfs.list") | sha256sum | cut -d' ' -f1)
stamp_matches() { [ -f "$out/$1.stamp" ] && [ "$(cat "$out/$1.stamp")" = "$2" ]; }

if stamp_matches kernel "$kernel_key" && [ -f "$out/vmlinux" ] && [ -f "$out/bzImage" ]; then
  echo "kernel: up to date ($out/vmlinux)"
else
  start=$(date +%s)
  rm -f "$out/kernel.stamp" "$out/initramfs.stamp"
  if ! stamp_matches source "$tarball_id" || ! [ -d "$out/kbuild" ]; then
    rm -rf "$out/source.stamp" "$out/patches.stamp" "$out/config.stamp" "$out/src" "$out/kbuild" "$out/applied"
    mkdir -p "$out/src" "$out/kbuild" "$out/applied"
    echo "kernel: extracting $tarball"
    tar -xJf "$tarball" -C "$out/src"
    echo "$tarball_id" > "$out/source.stamp"
  fi
  src=$(echo "$out"/src/linux-source-*)
  if ! stamp_matches patches "$patches_key"; then
    # Take back the patches applied last time (kept in OUT/applied), newest first, then apply
    # today's: only the files they touch change, so make rebuilds only what depends on them.
    rm -f "$out/patches.stamp"
    for p in $(ls -r "$out"/applied/*.patch 2>/dev/null); do
      echo "kernel: reverting $(basename "$p")"
      patch -d "$src" -p1 --quiet -R < "$p"
      rm "$p"
    done
    for p in "$here"/patches/*.patch; do
      echo "kernel: applying $(basename "$p")"
      patch -d "$src" -p1 --quiet --forward < "$p"
      cp "$p" "$out/applied/"
    done
    echo "$patches_key" > "$out/patches.stamp"
  fi
  if ! stamp_matches config "$config_key" || ! [ -f "$out/kbuild/.config" ]; then
    rm -f "$out/config.stamp"
    make -C "$src" O="$out/kbuild" -s tinyconfig > /dev/null
    "$src/scripts/kconfig/merge_config.sh" -m -O "$out/kbuild" "$out/kbuild/.config" "$here/guest.config" > /dev/null
    make -C "$src" O="$out/kbuild" -s olddefconfig
    # Every option the fragment sets or unsets must have survived olddefconfig (a missing
    # dependency drops an option silently, a select turns one back on).
    while read -r line; do
      case $line in CONFIG_* | "# CONFIG_"*" is not set") grep -qx "$line" "$out/kbuild/.config" || { echo "kernel: $line did not stick (a dependency is missing)" >&2; exit 1; } ;; esac
    done < "$here/guest.config"
    echo "$config_key" > "$out/config.stamp"
  fi
  echo "kernel: building vmlinux and bzImage with -j$jobs"
  make -C "$src" O="$out/kbuild" -s -j"$jobs" vmlinux bzImage
  cp "$out/kbuild/vmlinux" "$out/vmlinux"
  cp "$out/kbuild/arch/x86/boot/bzImage" "$out/bzImage"
  echo "$kernel_key" > "$out/kernel.stamp"
  echo "kernel: built in $(($(date +%s) - start)) s"
fi

if stamp_matches initramfs "$initramfs_key" && [ -f "$out/initramfs.cpio" ]; then
  echo "initramfs: up to date ($out/initramfs.cpio)"
else
  # A static ELF without libc: the system calls are inline assembly.
  "${CC:-cc}" -static -nostdlib -ffreestanding -fno-stack-protector -fno-pie -no-pie -O2 -Wall -Wextra -Werror \
    -o "$out/init" "$here/init.c"
  sed "s|@INIT@|$out/init|" "$here/initramfs.list" > "$out/initramfs.list"
  "$out/kbuild/usr/gen_init_cpio" "$out/initramfs.list" > "$out/initramfs.cpio"
  echo "$initramfs_key" > "$out/initramfs.stamp"
  echo "initramfs: built ($out/initramfs.cpio)"
fi
