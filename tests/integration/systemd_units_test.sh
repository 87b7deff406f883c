#!/usr/bin/env bash
# `systemd-analyze verify` on the shipped units, with ExecStart pointed at this build's binaries (verify checks
# that they exist). Skips (77) where systemd-analyze is not installed.
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
command -v systemd-analyze > /dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
for unit in bt-cloud bt-edge; do
  sed "s|/usr/local/bin/$unit|$BUILD/$unit|" "$SRC/configs/systemd/$unit.service" > "$TMP/$unit.service"
done
out="$(systemd-analyze verify "$TMP/bt-cloud.service" "$TMP/bt-edge.service" 2>&1 || true)"
if [ -n "$out" ]; then echo "$out"; exit 1; fi
echo "systemd-analyze verify: both units clean"
