#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs the whole test suite under CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
start=$(date +%s)
ctest --test-dir "${BT_BUILD_DIR:-build}" --output-on-failure --parallel "$(nproc)" --timeout 600
echo "tests: passed in $(( $(date +%s) - start ))s"
