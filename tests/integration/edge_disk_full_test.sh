#!/usr/bin/env bash
# The edge's disk fills up: bt-edge's data directory is a small tmpfs. A window whose result cannot be stored fails
# cleanly — the edge keeps serving the model it served (serving.json unchanged and intact), keeps answering, and
# pushes nothing half-written — and once there is room again the next window deploys and is delivered.
# Needs root for the tmpfs mount (skipped, exit 77, otherwise).
#
# Usage: tests/integration/edge_disk_full_test.sh BUILD_DIR
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
. "$SRC/tests/integration/lib.sh"
WORK="$(mktemp -d /tmp/bt-edge-full.XXXXXX)"
mkdir -p "$WORK/edge"
if ! mount -t tmpfs -o size=4m tmpfs "$WORK/edge" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs (needs root)"; rm -rf "$WORK"; exit 77
fi
CLOUD_PID=""; EDGE_PID=""
cleanup() {
  [ -n "$EDGE_PID" ] && kill -KILL "$EDGE_PID" 2>/dev/null || true
  [ -n "$CLOUD_PID" ] && kill -TERM "$CLOUD_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  umount "$WORK/edge" 2>/dev/null || true
  remove_work
}
trap cleanup EXIT
P_CLOUD=$(free_port); P_ADMIN=$(free_port); P_EDGE=$(free_port)
fixture_pair "$WORK" edge-f "\
    - {name: fog, samples: 300, labeled_fraction: 1.0, corruptions: [{type: fog, severity: 4}]}
    - {name: night, samples: 300, labeled_fraction: 1.0, corruptions: [{type: brightness, severity: 4, direction: down}]}
    - {name: snow, samples: 300, labeled_fraction: 1.0, corruptions: [{type: snow, severity: 4}]}"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve > "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
"$BUILD/bt-edge" -c "$WORK/edge.yaml" serve > "$WORK/edge.log" 2>&1 & EDGE_PID=$!
wait_for() { wait_for_edge "$WORK/edge.yaml" "$@"; }
wait_for 30 'd["cloud_connected"]' || fail "the edge did not connect"
echo "== window 1 deploys"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'd["serving_version"]==1 and d["unsent_updates"]==0' || fail "window 1 was not delivered"
cp "$WORK/edge/serving.json" "$WORK/serving-before.json"
echo "== the disk fills up while window 2 trains; its result cannot be stored"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'd["state"] in ("racing", "training")' || fail "window 2 did not start training"
dd if=/dev/zero of="$WORK/edge/filler" bs=64k 2>/dev/null || true   # until the tmpfs is full
wait_for 90 'len(d["recent"])>0 and d["recent"][0]["outcome"] not in ("running", "deployed") and d["state"]=="idle"' \
  || fail "window 2 did not end"
kill -0 "$EDGE_PID" 2>/dev/null || fail "bt-edge died on a full disk"
OUTCOME=$(edge_status_of "$WORK/edge.yaml" | json 'd["recent"][0]["outcome"]')
echo "window 2: $OUTCOME"
cmp -s "$WORK/serving-before.json" "$WORK/edge/serving.json" || fail "serving.json changed"
[ -z "$(find "$WORK/edge" -name '*.tmp.*')" ] || fail "a temporary file was left: $(find "$WORK/edge" -name '*.tmp.*')"
edge_status_of "$WORK/edge.yaml" | json 'd["serving_version"]==1 and d["unsent_updates"]==0' | grep -qx True \
  || fail "the edge no longer serves version 1 with nothing to send"
echo "== room again: window 3 deploys and is delivered"
rm -f "$WORK/edge/filler"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 90 'd["serving_version"]==2 and d["unsent_updates"]==0' || fail "window 3 was not delivered"
kill -TERM "$EDGE_PID"; wait "$EDGE_PID" || fail "bt-edge did not exit cleanly"; EDGE_PID=""
echo "PASS"
