# Shared by the integration scripts (sourced): the Python that has the stdlib modules they use, a free loopback port,
# a JSON field read, and waiting on `bt-edge status --json`.
PY=/usr/bin/python3
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
