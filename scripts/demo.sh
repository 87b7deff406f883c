#!/usr/bin/env bash
# The README's main command. On a fresh Debian machine: installs what is missing, builds, pretrains the default
# foundation model (once; cached under var/cloud/models), then starts bt-cloud and bt-edge on loopback and streams
# the default drift scenario (configs/scenarios/roadside.yaml) through one retraining window per domain, printing
# per window the domain, held-out accuracy before/after, the plan, predicted vs measured memory and the bytes shipped
# each way; at the end a comparison with no retraining. Stops both daemons cleanly.
#
# `scripts/demo.sh --workload text`: the same with the text workload — a LLaMA-style decoder pretrained on English
# prose (configs/cloud-text.yaml, ~11 minutes once, cached under var/cloud-text/models), retrained on an edge whose
# text turns into code, C headers, man pages and changelogs (configs/scenarios/text-default.yaml; next-token
# accuracy), through configs/edge-text.yaml.
#
# Environment: BT_DEMO_WINDOWS (default 5), BT_DEMO_WINDOW (default 90s; text 2m), BT_DEMO_BUDGET (default 10MiB;
# text 128MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOAD=image
while [ $# -gt 0 ]; do
  case "$1" in
    --workload) WORKLOAD="${2:-}"; shift 2 ;;
    --workload=*) WORKLOAD="${1#*=}"; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) echo "demo.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
BIN="${BT_BUILD_DIR:-build}"
PY=/usr/bin/python3
WINDOWS="${BT_DEMO_WINDOWS:-5}"
case "$WORKLOAD" in
  image)
    WINDOW="${BT_DEMO_WINDOW:-90s}"; BUDGET="${BT_DEMO_BUDGET:-10MiB}"
    MODEL=var/cloud/models/foundation.safetensors; DEMO=var/demo
    CLOUD_CONFIG=configs/cloud.yaml; EDGE_CONFIG=configs/edge.yaml; SCENARIO=configs/scenarios/roadside.yaml
    PRETRAIN_TIME="3-7 minutes on an idle 2-core machine, up to 20 under load"; REST_TIME="about 5 minutes" ;;
  text)
    WINDOW="${BT_DEMO_WINDOW:-2m}"; BUDGET="${BT_DEMO_BUDGET:-128MiB}"
    MODEL=var/cloud-text/models/foundation-text; DEMO=var/demo-text
    CLOUD_CONFIG=configs/cloud-text.yaml; EDGE_CONFIG=configs/edge-text.yaml
    SCENARIO=configs/scenarios/text-default.yaml
    PRETRAIN_TIME="about 11 minutes on an idle 2-core machine"; REST_TIME="about 10 minutes" ;;
  *) echo "demo.sh: --workload is image or text, not '$WORKLOAD'" >&2; exit 2 ;;
esac
start=$(date +%s)

# Say up front what this run will do and roughly how long it takes (figures measured on the 2-core project machine).
echo "BlockTrainer demo ($WORKLOAD): $WINDOWS retraining windows of $WINDOW through bt-cloud and bt-edge on loopback."
[ -x "$BIN/bt-cloud" ] || echo "  first run: installs missing Debian packages (a few minutes) and builds (about 4 minutes on 2 cores)"
if [ -e "$MODEL" ]; then
  echo "  the foundation model is cached ($MODEL): $REST_TIME in all"
else
  echo "  pretrains the foundation model once ($PRETRAIN_TIME;"
  echo "  progress every 10 s), then $REST_TIME for the rest"
fi
echo
scripts/setup.sh
scripts/build.sh

echo
if [ "$WORKLOAD" = image ]; then
  echo "== 1. foundation model: pretrain on clean Fashion-MNIST (skipped when cached) =="
else
  echo "== 1. foundation model: a tokenizer and a decoder pretrained on English prose (skipped when cached) =="
fi
# Progress lines (steps, rate, ETA, loss) go to stderr every pretrain.progress_interval.
"$BIN/bt-cloud" pretrain --config "$CLOUD_CONFIG" --log-level info 2>&1 | sed -u 's/^\[[^]]*\] \[info\] /  /'
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 1
if [ "$WORKLOAD" = image ]; then
  "$BIN/bt-cloud" evaluate --config "$CLOUD_CONFIG" --log-level warn
else
  $PY -c "
import json, sys
r = json.load(open(sys.argv[1] + '/report.json'))
print('  %s: %d parameters, held-out prose next-token accuracy %.1f%% (perplexity %.1f), %.0f tokens/s in pretraining'
      % (sys.argv[1], r['parameters'], 100 * r['heldout_prose_next_token_accuracy'], r['heldout_prose_perplexity'],
         r['train_tokens_per_second']))" "$MODEL"
fi

echo
echo "== 2. no retraining: the deployed model on each domain of the default scenario =="
"$BIN/bt-edge" drift-report --scenario "$SCENARIO" --model "$MODEL" --out "$DEMO/drift" \
  --log-level warn | sed -n '3,9p'

echo
echo "== 3. bt-cloud and bt-edge on loopback (default configs; state and logs under $DEMO) =="
rm -rf "$DEMO/cloud" "$DEMO/edge"
mkdir -p "$DEMO/cloud" "$DEMO/edge"
# The workload's configs, with this demo's state directories, the simulated camera of its scenario (one domain per
# window) and the demo's memory budget (image: about a third of what full fine-tuning needs; text: about a fifth).
sed -e "s|^  data_dir: [^ ]*|  data_dir: $DEMO/cloud|" -e "s|^  path: [^ ]*|  path: $MODEL|" "$CLOUD_CONFIG" \
  > "$DEMO/cloud.yaml"
sed -e "s|^  data_dir: [^ ]*|  data_dir: $DEMO/edge|" -e "s|^  memory_budget: [^ ]*|  memory_budget: $BUDGET|" \
    -e "s|^  scenario: [^ ]*|  scenario: $SCENARIO|" -e "s|^  advance: [^ ]*|  advance: per_window|" \
    -e "s|^  window: [^ ]*|  window: $WINDOW|" "$EDGE_CONFIG" > "$DEMO/edge.yaml"
EDGE_ID=$(sed -n 's/^  id: \([^ ]*\).*/\1/p' "$DEMO/edge.yaml" | head -1)
"$BIN/bt-cloud" --config "$DEMO/cloud.yaml" add-edge --edge "$EDGE_ID" --token-out "$DEMO/edge/token" --log-level warn
"$BIN/bt-cloud" --config "$DEMO/cloud.yaml" serve > "$DEMO/bt-cloud.log" 2>&1 &
CLOUD_PID=$!
"$BIN/bt-edge" --config "$DEMO/edge.yaml" serve > "$DEMO/bt-edge.log" 2>&1 &
EDGE_PID=$!
stop() {
  kill -TERM "$EDGE_PID" "$CLOUD_PID" 2>/dev/null || true
  wait "$EDGE_PID" 2>/dev/null || true
  wait "$CLOUD_PID" 2>/dev/null || true
}
trap stop EXIT
status_json() { "$BIN/bt-edge" --config "$DEMO/edge.yaml" status --json 2>/dev/null; }
check() { status_json | $PY -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($1) else 1)" 2>/dev/null; }
for _ in $(seq 1 120); do
  check 'd["cloud_connected"]' && break
  kill -0 "$EDGE_PID" 2>/dev/null || { echo "bt-edge exited:"; tail -20 "$DEMO/bt-edge.log"; exit 1; }
  sleep 0.5
done
check 'd["cloud_connected"]' || { echo "bt-edge did not connect:"; tail -20 "$DEMO/bt-edge.log"; exit 1; }
"$BIN/bt-cloud" --config "$DEMO/cloud.yaml" status --log-level warn

echo
echo "== 4. $WINDOWS retraining windows of $WINDOW, memory budget $BUDGET (probe → plan → pull → retrain → push) =="
printf "%-3s %-12s %7s %7s %9s %10s %10s %9s %9s  %s\n" "#" "domain" "before" "after" "predicted" "peak mem" \
  "pred. mem" "down" "up" "plan"
for w in $(seq 1 "$WINDOWS"); do
  "$BIN/bt-edge" --config "$DEMO/edge.yaml" retrain --now --log-level warn > /dev/null
  last=""
  for i in $(seq 1 600); do
    # One status query a second (each starts a bt-edge process, whose CPU the window pays): the window is done, or
    # a progress line on every change of stage and every 15 s (stage, share of the window, time left).
    line=$(status_json | $PY -c "
import json, sys
d = json.load(sys.stdin)
if len(d['recent']) >= $w and d['recent'][0]['outcome'] != 'running' and d['state'] == 'idle': print('done')
elif d['window_id']: print('    window %d: %-9s %3.0f%%, about %ds left' % ($w, d['state'], 100 * d['progress'], d['eta_seconds']))
" 2>/dev/null || true)
    [ "$line" = done ] && break
    stage=${line%%,*}; stage=${stage% *}
    if [ -n "$line" ] && { [ "$stage" != "$last" ] || [ $((i % 15)) -eq 0 ]; }; then echo "$line"; last=$stage; fi
    sleep 1
  done
  status_json | $PY -c "
import json, sys
d = json.load(sys.stdin)
r = d['recent'][0]
mib = lambda b: '%.2f MiB' % (b / 2**20)
kib = lambda b: '%.1f KiB' % (b / 2**10)
print('%-3d %-12s %6.1f%% %6.1f%% %8.1f%% %10s %10s %9s %9s  %s' % ($w, r['domain'], 100 * r['accuracy_before'],
      100 * r['accuracy_after'], 100 * r['predicted_accuracy'], mib(r['peak_memory_bytes']),
      mib(r['predicted_memory_bytes']), kib(r['bytes_down']), kib(r['bytes_up']), r['plan']))
if r['outcome'] != 'deployed': print('    outcome:', r['outcome'])
"
done

echo
echo "== 5. the cloud's view: the edge's branch of versions =="
"$BIN/bt-cloud" --config "$DEMO/cloud.yaml" status --log-level warn
echo
"$BIN/bt-cloud" --config "$DEMO/cloud.yaml" versions --edge "$EDGE_ID" --log-level warn

echo
echo "== 6. compared with no retraining =="
$PY - "$DEMO/drift/drift_report.json" "$DEMO/edge/results.jsonl" <<'PY'
import json, sys
drift = {d["domain"]: d["accuracy"] for d in json.load(open(sys.argv[1]))["domains"]}
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
none, after = [], []
for r in rows:
    if r["domain"] in drift:
        none.append(drift[r["domain"]]); after.append(r["accuracy_after"])
if rows:
    print("mean accuracy over %d windows: no retraining %.1f%% (foundation model, domain held-out sets),"
          " BlockTrainer %.1f%% (after each window, the edge's held-out slice)" %
          (len(after), 100 * sum(none) / len(none), 100 * sum(after) / len(after)))
PY

stop
trap - EXIT
echo
echo "both daemons stopped cleanly. Logs: $DEMO/bt-cloud.log, $DEMO/bt-edge.log; state: $DEMO/cloud (SQLite"
echo "database, block store, per-edge laws), $DEMO/edge (sample buffer, blocks, serving.json, results.jsonl)."
echo "demo: $(( $(date +%s) - start ))s"
