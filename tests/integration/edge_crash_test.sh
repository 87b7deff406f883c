#!/usr/bin/env bash
# bt-edge killed with SIGKILL, twice: during a window's training, and while its update is in flight to a cloud that
# has stopped answering (SIGSTOP). Each time the restarted edge serves its last deployed model (serving.json and
# the blocks it names, as before the kill), and the update of the interrupted push is delivered exactly once: the
# cloud ends with one version per deployed window, whatever was resent.
#
# Usage: tests/integration/edge_crash_test.sh BUILD_DIR
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/bt-edge-crash.XXXXXX)"
. "$SRC/tests/integration/lib.sh"
CLOUD_PID=""; EDGE_PID=""
cleanup() {
  [ -n "$CLOUD_PID" ] && kill -CONT "$CLOUD_PID" 2>/dev/null || true
  [ -n "$EDGE_PID" ] && kill -KILL "$EDGE_PID" 2>/dev/null || true
  [ -n "$CLOUD_PID" ] && kill -TERM "$CLOUD_PID" 2>/dev/null || true
  remove_work
}
trap cleanup EXIT
P_CLOUD=$(free_port); P_ADMIN=$(free_port); P_EDGE=$(free_port)
fixture_pair "$WORK" edge-c "\
    - {name: fog, samples: 300, labeled_fraction: 1.0, corruptions: [{type: fog, severity: 4}]}
    - {name: night, samples: 300, labeled_fraction: 1.0, corruptions: [{type: brightness, severity: 4, direction: down}]}
    - {name: snow, samples: 300, labeled_fraction: 1.0, corruptions: [{type: snow, severity: 4}]}
    - {name: rain, samples: 300, labeled_fraction: 1.0, corruptions: [{type: rain, severity: 4}]}"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve > "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
start_edge() { "$BUILD/bt-edge" -c "$WORK/edge.yaml" serve >> "$WORK/edge.log" 2>&1 & EDGE_PID=$!; }
wait_for() { wait_for_edge "$WORK/edge.yaml" "$@"; }
window_versions() {  # versions the cloud made from windows (not the foundation, not rollbacks)
  "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-c --json | json 'sum(1 for v in d if v["note"].startswith("window "))'
}
serving() { $PY -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["version"], json.dumps(s["blocks"]))' "$WORK/edge/serving.json"; }
start_edge
wait_for 30 'd["cloud_connected"]' || fail "the edge did not connect"

echo "== window 1 deploys and is delivered"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'd["serving_version"]==1 and d["unsent_updates"]==0' || fail "window 1 was not delivered"
BEFORE=$(serving)

echo "== kill -9 during window 2's training: the restarted edge serves version 1 as before"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'd["state"] in ("racing", "training")' || fail "window 2 did not reach training"
kill -KILL "$EDGE_PID"; wait "$EDGE_PID" 2>/dev/null || true
[ "$(serving)" = "$BEFORE" ] || fail "serving.json changed by the killed window"
start_edge
wait_for 30 'd["cloud_connected"] and d["serving_version"]==1' || fail "the restarted edge does not serve version 1"
[ "$(window_versions)" = 1 ] || fail "the killed window made a version"

echo "== kill -9 while window 3's update is in flight to a stalled cloud: delivered exactly once after restart"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'd["state"] in ("racing", "training")' || fail "window 3 did not reach training"
kill -STOP "$CLOUD_PID"
wait_for 60 'd["unsent_updates"]==1' || fail "window 3's update did not reach the outbox"
sleep 1   # the push is under way (or waiting on the stalled cloud)
kill -KILL "$EDGE_PID"; wait "$EDGE_PID" 2>/dev/null || true
ls "$WORK/edge/outbox/"*.json > /dev/null 2>&1 || fail "the outbox lost the update"
kill -CONT "$CLOUD_PID"
start_edge
wait_for 60 'd["cloud_connected"] and d["unsent_updates"]==0 and d["serving_version"]==2' \
  || fail "the update of window 3 was not delivered after the restart"
sleep 2   # any duplicate would land now
[ "$(window_versions)" = 2 ] || fail "expected 2 window versions on the cloud, found $(window_versions)"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-c --json > "$WORK/versions.json"
$PY - "$WORK/versions.json" "$WORK/edge/serving.json" <<'PY' || fail "the edge does not serve the cloud's head"
import json, sys
versions = json.load(open(sys.argv[1])); serving = json.load(open(sys.argv[2]))
assert {n: d for n, d in serving["blocks"]} == versions[-1]["blocks"], "edge and cloud head differ"
print("edge serves the cloud's head, version", versions[-1]["version"])
PY
kill -TERM "$EDGE_PID"; wait "$EDGE_PID" || fail "bt-edge did not exit cleanly"; EDGE_PID=""
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not exit cleanly"; CLOUD_PID=""
echo "PASS"
