#!/usr/bin/env bash
# hvkit's main job on this host: install dependencies, build, report the hypervisor backends this
# host offers, then run the example guest through hvkit.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh > /dev/null
cmake --preset dev > /dev/null
cmake --build --preset dev > /dev/null

echo "== hvctl info"
./build/dev/hvctl/hvctl info
echo
echo "== example guest (examples/consumer)"
./build/dev/examples/hello_guest
