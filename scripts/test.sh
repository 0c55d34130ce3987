#!/usr/bin/env bash
# hvkit's whole test suite: installs dependencies, then builds and runs every test under the `dev` and
# `asan` presets, smoke-runs each libFuzzer target on its seed corpus, and builds the consumer project
# against an installed hvkit. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh

echo "== dev: build and test"
cmake --preset dev
cmake --build --preset dev
ctest --preset dev

echo "== asan: build and test (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset asan
cmake --build --preset asan
ctest --preset asan

echo "== fuzz: build and smoke-run every target on its seed corpus"
cmake --preset fuzz
cmake --build --preset fuzz
./scripts/fuzz.sh "${HVKIT_FUZZ_SECONDS:-20}"

echo "== packaging: install, then build and run the consumer project against the installed tree"
prefix="$PWD/build/install"
rm -rf "$prefix" build/consumer
cmake --install build/dev --prefix "$prefix"
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

echo "== all tests passed"
