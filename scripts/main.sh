#!/usr/bin/env bash
# hvkit's main job on this host: install dependencies, build, run the conformance report on every
# backend this host offers, then run the demo guest through hvkit.
# Exit status: non-zero when a conformance case fails or the demo guest does not do what it should.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh > /dev/null
cmake --preset dev > /dev/null
cmake --build --preset dev > /dev/null

echo "== hvctl info"
./build/dev/hvctl/hvctl info
echo
echo "== hvctl conformance"
./build/dev/hvctl/hvctl conformance
echo
echo "== hvctl run (the embedded demo guest)"
./build/dev/hvctl/hvctl run
