#!/usr/bin/env bash
# hvkit's whole test suite: installs dependencies; checks formatting, the layering rules and that the
# guide's code blocks are its example programs' code; builds (warnings are errors) and runs every test
# under the `dev` and `asan` presets; runs clang-tidy over the library; builds the tests labelled
# `concurrency` under the `tsan` preset (only their executables) and runs them under ThreadSanitizer,
# where a data race fails them; checks that a sanitizer finding fails a fuzz run, then smoke-runs each
# libFuzzer target on its seed corpus; installs hvkit and builds the consumer project and the guide's
# examples against it. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

echo "== format: every C++ file as .clang-format says"
./scripts/check_format.sh

echo "== layering: include rules (docs/architecture.md) and the checker's self-test"
./scripts/check_layering_test.sh
./scripts/check_layering.sh

echo "== guide: every code block of docs/guide.md and README.md is its example program's code, and the checker's self-test"
./scripts/check_guide_test.sh
./scripts/check_guide.sh

echo "== dev: build (-Werror) and test"
cmake --preset dev
cmake --build --preset dev
ctest --preset dev

echo "== clang-tidy over the library (.clang-tidy)"
./scripts/tidy.sh build/dev

echo "== asan: build and test (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset asan
cmake --build --preset asan
ctest --preset asan

echo "== tsan: build the concurrency tests and run them under ThreadSanitizer (a data race fails them)"
cmake --preset tsan
cmake --build --preset tsan --target concurrency_tests
# ThreadSanitizer's memory layout allows at most 28 bits of mmap randomisation; where the kernel uses
# more, run without address-space randomisation rather than fail on "unexpected memory mapping".
tsan_run=()
if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ]; then tsan_run=(setarch "$(uname -m)" -R); fi
"${tsan_run[@]}" ctest --preset tsan -L concurrency

echo "== fuzz: build, check that undefined behaviour fails a fuzz run, smoke-run every target on its seed corpus"
cmake --preset fuzz
cmake --build --preset fuzz
./scripts/fuzz_selftest.sh build/fuzz
./scripts/fuzz.sh "${HVKIT_FUZZ_SECONDS:-20}"

echo "== subproject: hvkit under add_subdirectory defines its libraries only (no tests, tools or benchmarks)"
rm -rf build/subproject
cmake -S examples/subproject -B build/subproject > /dev/null
extra_tests=$(cd build/subproject && ctest -N | sed -n 's/^Total Tests: //p')
extra_targets=$(cmake --build build/subproject --target help | grep -cE 'hvctl|_tests|_bench|_fuzz|hello_guest|guide_|virtio_testing' || true)
if [ "$extra_tests" != "0" ] || [ "$extra_targets" != "0" ]; then
  echo "subproject: hvkit added $extra_tests tests and $extra_targets test/tool targets to its parent" >&2
  exit 1
fi

echo "== packaging: install, then build and run the consumer project against the installed tree"
prefix="$PWD/build/install"
rm -rf "$prefix" build/consumer
cmake --install build/dev --prefix "$prefix"
# What the package promises: the version header and the SBOM are installed, and find_package(hvkit)
# needs no GSL (no installed header includes it, the package config does not ask for it).
test -f "$prefix/include/hv/version.hpp" || { echo "packaging: hv/version.hpp not installed" >&2; exit 1; }
test -f "$prefix/share/doc/hvkit/hvkit-sbom.spdx.json" || { echo "packaging: SBOM not installed" >&2; exit 1; }
test -x "$prefix/bin/vhost-user-blk-load" || { echo "packaging: vhost-user-blk-load not installed" >&2; exit 1; }
if grep -rlE '#include [<"]gsl/' "$prefix/include" || grep -l 'GSL' "$prefix"/lib/cmake/hvkit/*.cmake; then
  echo "packaging: the installed package depends on GSL (above)" >&2
  exit 1
fi
cmake -S examples/consumer -B build/consumer -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/consumer -j2
set +e
build/consumer/hvkit_consumer
status=$?
set -e
if [ "$status" -eq 77 ]; then
  echo "consumer: built against the installed package; run skipped (KVM unavailable)"
elif [ "$status" -ne 0 ]; then
  echo "consumer: FAILED (exit $status)" >&2
  exit 1
fi

echo "== packaging: build the guide's examples against the installed tree and run them on kvm and mshv-sim"
rm -rf build/guide
cmake -S examples/guide -B build/guide -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build/guide -j2
ctest --test-dir build/guide --output-on-failure

echo "== all tests passed"
