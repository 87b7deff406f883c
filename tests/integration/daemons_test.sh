#!/usr/bin/env bash
# End to end: bt-cloud and bt-edge as real processes on loopback (ephemeral ports, temp dirs) run one complete
# window on a tiny model, then the test checks that the cloud holds a new version for the edge whose blocks equal
# the edge's retrained ones, that the edge's held-out accuracy did not fall, that both status commands show the
# window, that an update finished while the cloud is away waits in the outbox and is delivered when it is back,
# that a rollback on the cloud reaches the edge, that a later window's start choice (the version zoo) is the new
# version's parent on the cloud, and that both daemons stop cleanly on SIGTERM.
#
# Usage: tests/integration/daemons_test.sh BUILD_DIR   (needs /usr/share/datasets/fashion-mnist and python3)
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/bt-e2e.XXXXXX)"
. "$SRC/tests/integration/lib.sh"
CLOUD_PID=""; EDGE_PID=""
cleanup() {
  [ -n "$EDGE_PID" ] && kill -TERM "$EDGE_PID" 2>/dev/null || true
  [ -n "$CLOUD_PID" ] && kill -TERM "$CLOUD_PID" 2>/dev/null || true
  remove_work
}
trap cleanup EXIT

P_CLOUD=$(free_port); P_ADMIN=$(free_port); P_EDGE=$(free_port)
cat > "$WORK/cloud.yaml" <<YAML
cloud: {data_dir: $WORK/cloud, listen: 127.0.0.1:$P_CLOUD, admin_listen: 127.0.0.1:$P_ADMIN, log_level: info}
model:
  name: tiny
  architecture: {hidden_dim: 16, num_layers: 2, num_heads: 2, mlp_dim: 32}
pretrain: {epochs: 1, batch_size: 256, progress_interval: 60s}
YAML
cat > "$WORK/scenario.yaml" <<YAML
scenario:
  name: e2e
  seed: 3
  eval_samples: 100
  domains:
    - {name: fog, samples: 400, labeled_fraction: 1.0, corruptions: [{type: fog, severity: 4}]}
    - {name: night, samples: 400, labeled_fraction: 1.0, corruptions: [{type: brightness, severity: 4, direction: down}]}
    - {name: fog-again, samples: 400, labeled_fraction: 1.0, corruptions: [{type: fog, severity: 4}]}
YAML
cat > "$WORK/edge.yaml" <<YAML
edge: {id: edge-e2e, cloud: 127.0.0.1:$P_CLOUD, data_dir: $WORK/edge, memory_budget: 8MiB,
       admin_listen: 127.0.0.1:$P_EDGE, heartbeat_interval: 500ms}
retrain: {window: 20s, samples: 400, batch: 32}
simulator: {scenario: $WORK/scenario.yaml, advance: per_window}
YAML

echo "== pretraining a tiny model (1 epoch)"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" pretrain > "$WORK/pretrain.log" 2>&1 || fail "pretrain"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" add-edge --edge edge-e2e --token-out "$WORK/edge/token" > /dev/null

"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve > "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
"$BUILD/bt-edge" -c "$WORK/edge.yaml" serve > "$WORK/edge.log" 2>&1 & EDGE_PID=$!
edge_status() { edge_status_of "$WORK/edge.yaml"; }
wait_for() { wait_for_edge "$WORK/edge.yaml" "$@"; }  # wait_for SECONDS PYTHON-EXPR-ON-EDGE-STATUS
wait_for 30 'd["cloud_connected"]' || fail "the edge did not connect"

echo "== window 1"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'len(d["recent"])>0 and d["recent"][0]["outcome"]!="running" and d["unsent_updates"]==0' || fail "window 1 did not finish"
STATUS=$(edge_status)
echo "$STATUS" | json 'd["recent"][0]'
OUTCOME=$(echo "$STATUS" | json 'd["recent"][0]["outcome"]')
[ "$OUTCOME" = deployed ] || fail "window 1 outcome: $OUTCOME"
echo "$STATUS" | json 'd["recent"][0]["accuracy_after"] >= d["recent"][0]["accuracy_before"]' | grep -qx True \
  || fail "held-out accuracy fell"
VERSION=$(echo "$STATUS" | json 'd["serving_version"]')
[ "$VERSION" = 1 ] || fail "the edge serves version $VERSION, expected 1"

# The cloud's head for the edge holds exactly the edge's retrained blocks.
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-e2e --json > "$WORK/versions.json"
$PY - "$WORK/versions.json" "$WORK/edge/serving.json" <<'PY' || fail "cloud and edge blocks differ"
import json, sys
versions = json.load(open(sys.argv[1]))
serving = json.load(open(sys.argv[2]))
head = versions[-1]
assert head["version"] == 1 and head["changed_blocks"], head
edge_blocks = {name: digest for name, digest in serving["blocks"]}
assert head["blocks"] == edge_blocks, (head["blocks"], edge_blocks)
assert versions[0]["blocks"] != edge_blocks
print("cloud version 1 == edge blocks; changed:", head["changed_blocks"])
PY
# The edge's version as one checkpoint: its blocks are exactly version 1's, and it loads and evaluates.
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" export --edge edge-e2e --out "$WORK/v1.safetensors" > /dev/null \
  || fail "bt-cloud export"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" manifest -m "$WORK/v1.safetensors" --json > "$WORK/v1-manifest.json"
$PY - "$WORK/versions.json" "$WORK/v1-manifest.json" <<'PY' || fail "the exported checkpoint is not version 1"
import json, sys
head = json.load(open(sys.argv[1]))[-1]
exported = {b["name"]: b["digest"] for b in json.load(open(sys.argv[2]))["blocks"]}
assert exported == head["blocks"], (exported, head["blocks"])
print("exported checkpoint == cloud version 1")
PY
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" evaluate -m "$WORK/v1.safetensors" --json > /dev/null || fail "evaluate the export"
if "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" export --edge edge-e2e --version 9 --out "$WORK/v9.safetensors" 2>/dev/null \
  || [ -e "$WORK/v9.safetensors" ]; then fail "exporting a missing version succeeded or left a file"; fi
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" status --json | json 'd["edges"][0]["version"]==1 and d["edges"][0]["last_accuracy_after"]>0' \
  | grep -qx True || fail "bt-cloud status does not show the window"

echo "== window 2: the cloud goes away during training; the update waits in the outbox"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 60 'd["state"] in ("racing", "training")' || fail "window 2 did not start training"
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not exit cleanly"; CLOUD_PID=""
wait_for 60 'd["recent"][0]["outcome"]=="deployed" and d["unsent_updates"]==1' \
  || fail "the finished update is not waiting in the outbox"
ls "$WORK/edge/outbox/"*.json > /dev/null || fail "no outbox file"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve >> "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
wait_for 60 'd["unsent_updates"]==0 and d["serving_version"]==2 and d["cloud_connected"]' \
  || fail "window 2 was not delivered after the cloud came back"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-e2e --json | json 'len(d)==3' | grep -qx True \
  || fail "the cloud does not hold version 2"

echo "== rollback to version 1: the edge adopts the blocks of version 1 as the new head"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" rollback --edge edge-e2e --to 1 > /dev/null || fail "rollback"
wait_for 30 'd["serving_version"]==3 and d["cloud_connected"]' || fail "the edge did not adopt the rollback"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-e2e --json > "$WORK/versions.json"
$PY - "$WORK/versions.json" "$WORK/edge/serving.json" <<'PY' || fail "after the rollback the edge does not serve version 1's blocks"
import json, sys
versions = json.load(open(sys.argv[1]))
serving = json.load(open(sys.argv[2]))
assert versions[3]["blocks"] == versions[1]["blocks"] and "rollback" in versions[3]["note"], versions[3]
assert {n: d for n, d in serving["blocks"]} == versions[1]["blocks"]
print("rolled back: the edge serves version 3 = the blocks of version 1")
PY

echo "== window 3 (fog again): the window scores its start candidates; the new version's parent is its start"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 90 'd["serving_version"]==4 and d["unsent_updates"]==0' || fail "window 3 was not delivered"
START=$(grep -o 'start: v[0-9]*' "$WORK/edge.log" | tail -1 | sed 's/start: v//')
[ -n "$START" ] || fail "window 3 logged no start choice"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-e2e --json | json "d[4]['parent']==$START" | grep -qx True \
  || fail "version 4's parent is not the start the window chose (v$START)"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-e2e > "$WORK/tree.txt" || fail "bt-cloud versions"
grep -q "v4" "$WORK/tree.txt" || fail "the version tree does not show version 4"
grep -q '"confirmed": true' "$WORK/edge/zoo.json" 2>/dev/null || grep -q '"confirmed":true' "$WORK/edge/zoo.json" \
  || fail "the edge's version zoo holds no confirmed version"
echo "window 3 started from v$START; version 4's parent is v$START"

echo "== clean shutdown"
kill -TERM "$EDGE_PID"; wait "$EDGE_PID" || fail "bt-edge did not exit cleanly"; EDGE_PID=""
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not exit cleanly"; CLOUD_PID=""
echo "PASS"
