#!/usr/bin/env bash
# Self-test of scripts/check_layering.sh: a tiny fake tree shaped like hvkit's (a few empty headers and
# sources per layer, with the includes the real tree has) must pass; each forbidden include injected
# into a fresh copy of it must fail the check with a line naming that file, layer and header; so
# must all of them at once. The fixture is fake on purpose: the test does not change when the real
# tree does, and the real tree is checked by running check_layering.sh itself.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
checker="$here/check_layering.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

# put FILE LINE...: creates FILE (and its folder) with the given lines.
put() {
  local file="$1"
  shift
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$@" >"$file"
}

make_clean_fixture() {
  local r="$1"
  mkdir -p "$r"
  (
    cd "$r"
    put hypervisor/include/hv/error.hpp '#pragma once'
    put hypervisor/include/hv/hypervisor.hpp '#pragma once' '#include "hv/error.hpp"'
    put hypervisor/src/x86_alu.hpp '#pragma once'
    put hypervisor/src/x86_executor.cpp '#include "hv/hypervisor.hpp"' '#include "x86_alu.hpp"' \
      '// #include "hv/kvm/kvm.hpp"   (a comment, not an include)'
    put hypervisor/fuzz/fuzz_input.hpp '#pragma once'
    put hypervisor/tests/x86_native_oracle.hpp '#pragma once'
    put hypervisor/tests/backend_test.cpp '#include "hv/hypervisor.hpp"' '#include "hv/kvm/kvm.hpp"' '#include "../src/x86_alu.hpp"'

    put kvm/include/hv/kvm/kvm.hpp '#pragma once' '#include "hv/hypervisor.hpp"'
    put kvm/src/kvm_abi.hpp '#pragma once' '#include <linux/kvm.h>'
    put kvm/src/kvm_vcpu.cpp '#include "hv/kvm/kvm.hpp"' '#include "kvm_abi.hpp"'
    put kvm/fuzz/kvm_exit_decoder_fuzz.cpp '#include "kvm_abi.hpp"' '#include "../../hypervisor/fuzz/fuzz_input.hpp"'

    put mshv/abi/mshv_abi.hpp '#pragma once' '#include <cstdint>'
    put mshv/include/hv/mshv/system.hpp '#pragma once'
    put mshv/include/hv/mshv/mshv.hpp '#pragma once' '#include "hv/hypervisor.hpp"' '#include "hv/mshv/system.hpp"'
    put mshv/src/mshv_calls.hpp '#pragma once' '#include "hv/mshv/system.hpp"' '#include "mshv_abi.hpp"'
    put mshv/src/mshv_vcpu.cpp '#include "mshv_calls.hpp"' '#include "hv/mshv/mshv.hpp"'
    put mshv/sim/include/hv/mshv/simulator.hpp '#pragma once' '#include "hv/mshv/system.hpp"'
    put mshv/sim/src/sim_vp.hpp '#pragma once' '#include "mshv_abi.hpp"'
    put mshv/sim/src/sim_system.cpp '#include "hv/kvm/kvm.hpp"' '#include "hv/mshv/simulator.hpp"' \
      '#include "sim_vp.hpp"' '#  include <hv/hypervisor.hpp>'
    put mshv/tests/mshv_backend_test.cpp '#include "hv/mshv/simulator.hpp"' '#include "mshv_calls.hpp"' '#include "mshv_abi.hpp"'

    put backends/include/hv/builtin_backends.hpp '#pragma once'
    put backends/src/builtin_backends.cpp '#include "hv/kvm/kvm.hpp"' '#include "hv/mshv/mshv.hpp"' '#include "hv/mshv/simulator.hpp"'

    put devices/include/hv/dev/bus_device.hpp '#pragma once'
    put devices/include/hv/dev/interrupt_line.hpp '#pragma once' '#include "hv/hypervisor.hpp"'
    put devices/include/hv/dev/byte_sink.hpp '#pragma once'
    put devices/include/hv/dev/serial_16550.hpp '#pragma once' '#include "hv/dev/bus_device.hpp"'
    put devices/src/serial_16550.cpp '#include "hv/dev/serial_16550.hpp"'
    put devices/tests/recording_line.hpp '#pragma once' '#include "hv/dev/interrupt_line.hpp"'
    put devices/tests/serial_16550_test.cpp '#include "recording_line.hpp"' '#include "hv/dev/serial_16550.hpp"'

    put virtio/include/hv/virtio/mmio_transport.hpp '#pragma once' '#include "hv/dev/bus_device.hpp"' \
      '#include "hv/dev/interrupt_line.hpp"' '#include "hv/hypervisor.hpp"'
    put virtio/include/hv/virtio/console.hpp '#pragma once' '#include "hv/dev/byte_sink.hpp"'
    put virtio/src/mmio_transport.cpp '#include "hv/virtio/mmio_transport.hpp"'
    put virtio/testing/include/hv/virtio/testing/mock_split_driver.hpp '#pragma once' '#include "hv/virtio/mmio_transport.hpp"'
    put virtio/tests/mmio_transport_test.cpp '#include "hv/virtio/testing/mock_split_driver.hpp"'

    put conformance/include/hv/conformance/suite.hpp '#pragma once' '#include "hv/hypervisor.hpp"'
    put conformance/src/suite.cpp '#include "hv/conformance/suite.hpp"' '#include "guest_images_table.inc"'
    put conformance/guests/pio_out.S '  .include "guest.inc"'
    put conformance/tests/conformance_test.cpp '#include "hv/builtin_backends.hpp"' '#include "hv/kvm/kvm.hpp"'

    put vmm/include/hv/vmm/machine.hpp '#pragma once' '#include "hv/dev/serial_16550.hpp"' '#include "hv/virtio/mmio_transport.hpp"'
    put vmm/src/machine.cpp '#include "hv/vmm/machine.hpp"'
    put hvctl/main.cpp '#include "hv/builtin_backends.hpp"' '#include "hv/vmm/machine.hpp"' '#include "hv/conformance/suite.hpp"'
    put bench/raw_kvm_guest.cpp '#include <linux/kvm.h>' '#include "x86_native_oracle.hpp"' '#include "hv/virtio/testing/mock_split_driver.hpp"'
    put examples/consumer/main.cpp '#include <hv/kvm/kvm.hpp>'

    # A build directory is not source: anything there is ignored.
    put build/dev/generated.cpp '#include "hv/kvm/kvm.hpp"' '#include "mshv_calls.hpp"'
    put hypervisor/build/stray.cpp '#include "hv/kvm/kvm.hpp"'
  )
}

# expect_fail NAME PATTERN... : the checker fails on $work/NAME and prints a line matching each pattern.
expect_fail() {
  local name="$1"
  shift
  local out status=0
  out="$("$checker" "$work/$name" 2>&1)" || status=$?
  if [ "$status" -ne 1 ]; then
    echo "FAIL $name: exit $status, expected 1"
    printf '%s\n' "$out" | sed 's/^/    /'
    failures=$((failures + 1))
    return
  fi
  local pattern
  for pattern in "$@"; do
    if ! grep -qF -- "$pattern" <<<"$out"; then
      echo "FAIL $name: no line containing: $pattern"
      printf '%s\n' "$out" | sed 's/^/    /'
      failures=$((failures + 1))
      return
    fi
  done
  echo "ok   $name"
}

# inject NAME FILE LINE: a fresh copy of the clean fixture with LINE appended to FILE.
inject() {
  cp -a "$work/clean" "$work/$1"
  mkdir -p "$(dirname "$work/$1/$2")"
  printf '%s\n' "$3" >>"$work/$1/$2"
}

make_clean_fixture "$work/clean"

# The clean fixture passes and says how much it checked.
status=0
out="$("$checker" "$work/clean" 2>&1)" || status=$?
if [ "$status" -eq 0 ] && grep -qE '^check_layering: ok: [0-9]+ files, [0-9]+ hvkit includes checked' <<<"$out"; then
  echo "ok   clean fixture passes ($out)"
else
  echo "FAIL clean fixture: exit $status"
  printf '%s\n' "$out" | sed 's/^/    /'
  failures=$((failures + 1))
fi

# Each forbidden include on its own. The line number is the fixture file's line count + 1.
inject hypervisor_includes_backend hypervisor/src/x86_executor.cpp '#include "hv/kvm/kvm.hpp"'
expect_fail hypervisor_includes_backend \
  'hypervisor/src/x86_executor.cpp:4: hypervisor may not include hv/kvm/kvm.hpp (docs/architecture.md)'

inject virtio_includes_legacy_device virtio/src/mmio_transport.cpp '#include "hv/dev/serial_16550.hpp"'
expect_fail virtio_includes_legacy_device \
  'virtio/src/mmio_transport.cpp:2: virtio may not include hv/dev/serial_16550.hpp (docs/architecture.md)'

inject sim_includes_backend_src mshv/sim/src/sim_system.cpp '#include "mshv_calls.hpp"'
expect_fail sim_includes_backend_src \
  'mshv/sim/src/sim_system.cpp:5: mshv/sim may not include mshv_calls.hpp (docs/architecture.md)'

inject sim_includes_backend_src_by_path mshv/sim/src/sim_system.cpp '#include "../../src/mshv_calls.hpp"'
expect_fail sim_includes_backend_src_by_path \
  'mshv/sim/src/sim_system.cpp:5: mshv/sim may not include ../../src/mshv_calls.hpp'

inject sim_includes_backend_entry mshv/sim/src/sim_vp.hpp '#include <hv/mshv/mshv.hpp>'
expect_fail sim_includes_backend_entry 'mshv/sim/src/sim_vp.hpp:3: mshv/sim may not include hv/mshv/mshv.hpp'

inject sim_speaks_kvm_abi mshv/sim/src/sim_system.cpp '#include <linux/kvm.h>'
expect_fail sim_speaks_kvm_abi 'mshv/sim/src/sim_system.cpp:5: mshv/sim may not include linux/kvm.h'

inject abi_includes_hvkit mshv/abi/mshv_abi.hpp '#include "hv/error.hpp"'
expect_fail abi_includes_hvkit 'mshv/abi/mshv_abi.hpp:3: mshv/abi may not include hv/error.hpp'

inject vmm_includes_mshv_abi vmm/src/machine.cpp '#include "mshv_abi.hpp"'
expect_fail vmm_includes_mshv_abi 'vmm/src/machine.cpp:2: vmm may not include mshv_abi.hpp'

inject hvctl_includes_sim_internals hvctl/main.cpp '#include "../mshv/sim/src/sim_vp.hpp"'
expect_fail hvctl_includes_sim_internals 'hvctl/main.cpp:4: hvctl may not include ../mshv/sim/src/sim_vp.hpp'

inject devices_includes_virtio devices/include/hv/dev/bus_device.hpp '#include "hv/virtio/console.hpp"'
expect_fail devices_includes_virtio 'devices/include/hv/dev/bus_device.hpp:2: devices may not include hv/virtio/console.hpp'

inject conformance_includes_backend conformance/src/suite.cpp '#include "hv/kvm/kvm.hpp"'
expect_fail conformance_includes_backend 'conformance/src/suite.cpp:3: conformance may not include hv/kvm/kvm.hpp'

inject kvm_includes_other_backend kvm/src/kvm_vcpu.cpp '#include "hv/mshv/system.hpp"'
expect_fail kvm_includes_other_backend 'kvm/src/kvm_vcpu.cpp:3: kvm may not include hv/mshv/system.hpp'

inject shipped_code_includes_test_code virtio/src/mmio_transport.cpp '#include "hv/virtio/testing/mock_split_driver.hpp"'
expect_fail shipped_code_includes_test_code \
  'virtio/src/mmio_transport.cpp:2: virtio may not include hv/virtio/testing/mock_split_driver.hpp'

inject tests_reach_up devices/tests/serial_16550_test.cpp '#include "hv/virtio/console.hpp"'
expect_fail tests_reach_up 'devices/tests/serial_16550_test.cpp:3: devices (tests) may not include hv/virtio/console.hpp'

inject unknown_header vmm/src/machine.cpp '#include "hv/no_such_header.hpp"'
expect_fail unknown_header 'vmm/src/machine.cpp:2: vmm includes hv/no_such_header.hpp, which no layer provides'

inject unplaced_file snapshot/daemon.cpp '#include "hv/hypervisor.hpp"'
expect_fail unplaced_file 'snapshot/daemon.cpp: not in any layer of docs/architecture.md'

# All of them at once: every one is reported in a single run.
cp -a "$work/clean" "$work/all"
printf '%s\n' '#include "hv/kvm/kvm.hpp"' >>"$work/all/hypervisor/src/x86_executor.cpp"
printf '%s\n' '#include "hv/dev/serial_16550.hpp"' >>"$work/all/virtio/src/mmio_transport.cpp"
printf '%s\n' '#include "mshv_calls.hpp"' >>"$work/all/mshv/sim/src/sim_system.cpp"
expect_fail all \
  'hypervisor/src/x86_executor.cpp:4: hypervisor may not include hv/kvm/kvm.hpp' \
  'virtio/src/mmio_transport.cpp:2: virtio may not include hv/dev/serial_16550.hpp' \
  'mshv/sim/src/sim_system.cpp:5: mshv/sim may not include mshv_calls.hpp' \
  'check_layering: 3 forbidden include(s)'

if [ "$failures" -gt 0 ]; then
  echo "check_layering_test: $failures case(s) failed" >&2
  exit 1
fi
echo "check_layering_test: all cases passed"
