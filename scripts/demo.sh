#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, pretrains the default foundation model (once;
# cached under var/cloud/models), evaluates it, shows its blocks, and runs bt-cloud briefly to show the daemon
# answering its CLI and an edge over gRPC.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
BIN="${BT_BUILD_DIR:-build}"
CLOUD_CONFIG=configs/cloud.yaml
EDGE_CONFIG=configs/edge.yaml

echo
echo "== 1. foundation model: pretrain on clean Fashion-MNIST (skipped when cached) =="
"$BIN/bt-cloud" pretrain --config "$CLOUD_CONFIG"
MODEL=var/cloud/models/foundation.safetensors
if [ -f "$MODEL.report.json" ]; then
  echo "pretraining report ($MODEL.report.json):"
  sed 's/^/  /' "$MODEL.report.json"
fi

echo
echo "== 2. clean test accuracy =="
"$BIN/bt-cloud" evaluate --config "$CLOUD_CONFIG" --log-level warn

echo
echo "== 3. the model as blocks (the unit BlockTrainer plans, ships and retrains) =="
"$BIN/bt-cloud" manifest --config "$CLOUD_CONFIG" --log-level warn

echo
echo "== 4. drift: the deployed model on each domain of the default scenario (held-out samples) =="
"$BIN/bt-edge" drift-report --scenario configs/scenarios/roadside.yaml --model "$MODEL" \
  --out var/reports/roadside --log-level warn
echo "chart: var/reports/roadside/drift_report.png"

echo
echo "== 5. planning: what this edge's blocks cost here, and the best plan for a 6 MiB, 2-minute window =="
mkdir -p var/edge
"$BIN/bt-edge" probe-costs --model "$MODEL" --out var/edge/profile.json --log-level warn | tail -n 1
"$BIN/bt-cloud" plan --config "$CLOUD_CONFIG" --profile var/edge/profile.json --memory-budget 6MiB --window 2m \
  --acc0 0.4 --log-level warn

echo
echo "== 6. bt-cloud serving on loopback; its CLI and an edge ask it over gRPC =="
LOG_DIR=var/demo
mkdir -p "$LOG_DIR"
PORT="${BT_DEMO_PORT:-50051}"
"$BIN/bt-cloud" serve --config "$CLOUD_CONFIG" --listen "127.0.0.1:$PORT" > "$LOG_DIR/bt-cloud.log" 2>&1 &
CLOUD_PID=$!
trap 'kill -TERM $CLOUD_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  if "$BIN/bt-cloud" status --address "127.0.0.1:$PORT" --log-level error > /dev/null 2>&1; then break; fi
  if ! kill -0 $CLOUD_PID 2>/dev/null; then echo "bt-cloud exited; see $LOG_DIR/bt-cloud.log"; cat "$LOG_DIR/bt-cloud.log"; exit 1; fi
  sleep 0.2
done
"$BIN/bt-cloud" status --address "127.0.0.1:$PORT" --log-level warn
echo
"$BIN/bt-edge" cloud-manifest --config "$EDGE_CONFIG" --address "127.0.0.1:$PORT" --log-level warn
kill -TERM $CLOUD_PID
wait $CLOUD_PID || true
trap - EXIT
echo
echo "bt-cloud stopped cleanly; its log: $LOG_DIR/bt-cloud.log; state: var/cloud"
