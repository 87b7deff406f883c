# Shared by the integration scripts (sourced): the Python that has the stdlib modules they use, a free loopback port,
# a JSON field read, waiting on `bt-edge status --json`, and what every script ends with — `fail` (the message and
# the tail of each daemon log in $WORK) and `remove_work` (its cleanup's last step: wait for the daemons it stopped,
# then delete $WORK unless KEEP=1).
PY=/usr/bin/python3
fail() {
  echo "FAIL: $*"
  for log in "$WORK"/*.log; do
    [ -f "$log" ] && { echo "--- $(basename "$log")"; tail -30 "$log"; }
  done
  exit 1
}
remove_work() {
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# edge_status_of EDGE_YAML; wait_for_edge EDGE_YAML SECONDS PYTHON-EXPR-ON-EDGE-STATUS (d = the status JSON)
edge_status_of() { "$BUILD/bt-edge" -c "$1" status --json 2>/dev/null; }
wait_for_edge() {
  for _ in $(seq 1 $(( $2 * 4 ))); do
    if edge_status_of "$1" | json "$3" 2>/dev/null | grep -qx True; then return 0; fi
    sleep 0.25
  done
  return 1
}
# wait_for_port PORT: until something accepts on 127.0.0.1:PORT (30 s at most)
wait_for_port() {
  $PY - "$1" <<'PY'
import socket, sys, time
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close(); sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
}
# fixture_pair WORK EDGE_ID DOMAINS: a cloud serving the committed tiny fixture model (WORK/cloud.yaml, ports in
# P_CLOUD, P_ADMIN) and one edge (WORK/edge.yaml, admin on P_EDGE, data in WORK/edge, token made) whose simulated
# camera delivers the next of DOMAINS (scenario YAML list lines, 300 labeled samples each) per window. Needs SRC.
fixture_pair() {
  local work="$1" edge="$2" domains="$3"
  mkdir -p "$work/cloud/models" "$work/edge"
  cp "$SRC/tests/fixtures/vit_tiny.safetensors" "$work/cloud/models/foundation.safetensors"
  cat > "$work/cloud.yaml" <<YAML
cloud: {data_dir: $work/cloud, listen: 127.0.0.1:$P_CLOUD, admin_listen: 127.0.0.1:$P_ADMIN, log_level: info}
model: {name: tiny}
YAML
  printf 'scenario:\n  name: %s\n  seed: 5\n  eval_samples: 100\n  domains:\n%s\n' "$edge" "$domains" > "$work/scenario.yaml"
  cat > "$work/edge.yaml" <<YAML
edge: {id: $edge, cloud: 127.0.0.1:$P_CLOUD, data_dir: $work/edge, memory_budget: 8MiB,
       admin_listen: 127.0.0.1:$P_EDGE, heartbeat_interval: 500ms}
retrain: {window: 20s, samples: 300, batch: 32}
simulator: {scenario: $work/scenario.yaml, advance: per_window}
YAML
  "$BUILD/bt-cloud" -c "$work/cloud.yaml" add-edge --edge "$edge" --token-out "$work/edge/token" > /dev/null
}
