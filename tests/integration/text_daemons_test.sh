#!/usr/bin/env bash
# End to end on text: bt-cloud pretrains a tiny LLaMA-style decoder and its tokenizer on prose (Debian's license
# texts), serves it from its model directory, and bt-edge — which gets the tokenizer at registration — retrains it
# in one window on Python source its simulated camera delivers as token sequences. The test checks that the window
# deployed without the held-out accuracy falling, that the cloud's new version holds exactly the edge's blocks, that
# the edge keeps the cloud's tokenizer, that text files dropped into the spool become token-sequence samples (a
# binary file is rejected), that the exported version is an HF-style directory, and that both daemons stop cleanly.
#
# Usage: tests/integration/text_daemons_test.sh BUILD_DIR   (needs python3.11's standard library and libc6-dev)
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/bt-text-e2e.XXXXXX)"
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
  name: tiny-text
  family: llama
  decoder: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
            num_key_value_heads: 2, max_position_embeddings: 64}
pretrain:
  dataset: text
  corpus: ["/usr/share/common-licenses/*"]
  vocab_size: 400
  sequence: 32
  max_tokens: 60000
  epochs: 1
  batch_size: 32
  progress_interval: 60s
YAML
cat > "$WORK/scenario.yaml" <<YAML
scenario:
  name: text-e2e
  seed: 3
  dataset: text
  sequence: 32
  eval_samples: 60
  domains:
    - {name: python, files: ["/usr/lib/python3.11/*.py"], samples: 240, labeled_fraction: 1.0}
YAML
mkdir -p "$WORK/edge"
cat > "$WORK/edge.yaml" <<YAML
edge: {id: edge-text, cloud: 127.0.0.1:$P_CLOUD, data_dir: $WORK/edge, memory_budget: 8MiB,
       admin_listen: 127.0.0.1:$P_EDGE, heartbeat_interval: 500ms}
retrain: {window: 20s, samples: 240, batch: 16}
spool: {dir: $WORK/spool, poll_interval: 200ms, sequence: 32}
simulator: {scenario: $WORK/scenario.yaml, advance: per_window}
YAML

echo "== pretraining a tiny decoder and its tokenizer"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" pretrain > "$WORK/pretrain.log" 2>&1 || { cat "$WORK/pretrain.log"; fail "pretrain"; }
MODEL="$WORK/cloud/models/foundation-text"
[ -f "$MODEL/config.json" ] && [ -f "$MODEL/tokenizer.model" ] || fail "pretrain wrote no model directory"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" add-edge --edge edge-text --token-out "$WORK/edge/token" > /dev/null

"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve > "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
"$BUILD/bt-edge" -c "$WORK/edge.yaml" serve > "$WORK/edge.log" 2>&1 & EDGE_PID=$!
edge_status() { edge_status_of "$WORK/edge.yaml"; }
wait_for() { wait_for_edge "$WORK/edge.yaml" "$@"; }
wait_for 30 'd["cloud_connected"]' || fail "the edge did not connect"
cmp "$MODEL/tokenizer.model" "$WORK/edge/tokenizer.model" || fail "the edge does not keep the cloud's tokenizer"

echo "== a window on Python source"
"$BUILD/bt-edge" -c "$WORK/edge.yaml" retrain --now > /dev/null
wait_for 90 'len(d["recent"])>0 and d["recent"][0]["outcome"]!="running" and d["unsent_updates"]==0' \
  || fail "the window did not finish"
STATUS=$(edge_status)
echo "$STATUS" | json 'd["recent"][0]'
OUTCOME=$(echo "$STATUS" | json 'd["recent"][0]["outcome"]')
[ "$OUTCOME" = deployed ] || fail "window outcome: $OUTCOME"
echo "$STATUS" | json 'd["recent"][0]["accuracy_after"] >= d["recent"][0]["accuracy_before"] > 0' | grep -qx True \
  || fail "held-out next-token accuracy fell"
[ "$(echo "$STATUS" | json 'd["serving_version"]')" = 1 ] || fail "the edge does not serve version 1"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" versions --edge edge-text --json > "$WORK/versions.json"
$PY - "$WORK/versions.json" "$WORK/edge/serving.json" <<'PY' || fail "cloud and edge blocks differ"
import json, sys
head = json.load(open(sys.argv[1]))[-1]
edge = {name: digest for name, digest in json.load(open(sys.argv[2]))["blocks"]}
assert head["version"] == 1 and head["changed_blocks"] and head["blocks"] == edge, (head, edge)
print("cloud version 1 == edge blocks; changed:", head["changed_blocks"])
PY

echo "== text files in the spool become token sequences"
BEFORE=$(echo "$STATUS" | json 'd["buffered_samples"]')
mkdir -p "$WORK/spool"
cp /usr/lib/python3.11/textwrap.py "$WORK/spool/.textwrap.py.part" && mv "$WORK/spool/.textwrap.py.part" "$WORK/spool/textwrap.py"
printf 'P5\0\0\1binary' > "$WORK/spool/camera.pgm"
wait_for 20 "d['buffered_samples'] > $BEFORE + 50" || fail "the spool's text did not reach the buffer"
[ ! -e "$WORK/spool/textwrap.py" ] || fail "the ingested file is still in the spool"
grep -q binary "$WORK/spool/rejected/camera.pgm.reason.txt" || fail "the binary file was not rejected with its reason"

echo "== the edge's version exported as an HF-style directory"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" export --edge edge-text --out "$WORK/v1" > /dev/null || fail "export"
for f in config.json model.safetensors tokenizer.model; do [ -f "$WORK/v1/$f" ] || fail "export lacks $f"; done

echo "== both daemons stop on SIGTERM"
kill -TERM "$EDGE_PID"; wait "$EDGE_PID" || fail "bt-edge did not exit cleanly"; EDGE_PID=""
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not exit cleanly"; CLOUD_PID=""
echo "PASS"
