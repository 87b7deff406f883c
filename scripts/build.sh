#!/usr/bin/env bash
# Configures and builds BlockTrainer (Release, Ninja, clang + ccache when present) into build/.
# Usage: scripts/build.sh [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BT_BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
start=$(date +%s)
cmake --build "$BUILD_DIR" --parallel "$(nproc)"
echo "build: done in $(( $(date +%s) - start ))s ($BUILD_DIR)"
