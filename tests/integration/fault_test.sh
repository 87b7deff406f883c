#!/usr/bin/env bash
# Fault harness: bt-cloud is killed with SIGKILL at random points while EDGES edges push updates concurrently
# (bt-fault-pusher), and restarted, CYCLES times. Then the cloud is restarted once more (its start-up sweep runs) and
# the harness checks what a crash must never break: every push the cloud acknowledged is in the registry with the
# acknowledged block, `PRAGMA integrity_check` is ok, every stored block file hashes to its name, no block file is
# unreferenced (orphans) and no temporary file is left.
#
# Usage: tests/integration/fault_test.sh BUILD_DIR     FAULT_CYCLES (default 5; the long form: 100), FAULT_EDGES (4)
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
CYCLES="${FAULT_CYCLES:-5}"
EDGES="${FAULT_EDGES:-4}"
WORK="$(mktemp -d /tmp/bt-fault.XXXXXX)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
. "$SRC/tests/integration/lib.sh"
CLOUD_PID=""; PUSHER_PID=""
cleanup() {
  [ -n "$PUSHER_PID" ] && kill -TERM "$PUSHER_PID" 2>/dev/null || true
  [ -n "$CLOUD_PID" ] && kill -KILL "$CLOUD_PID" 2>/dev/null || true
  remove_work
}
trap cleanup EXIT
P_CLOUD=$(free_port); P_ADMIN=$(free_port)
cat > "$WORK/cloud.yaml" <<YAML
cloud: {data_dir: $WORK/cloud, listen: 127.0.0.1:$P_CLOUD, admin_listen: 127.0.0.1:$P_ADMIN, log_level: warn}
model:
  name: tiny
  architecture: {hidden_dim: 16, num_layers: 2, num_heads: 2, mlp_dim: 32}
YAML
echo "== a tiny model (the committed test fixture: its accuracy does not matter here) and $EDGES edge tokens"
mkdir -p "$WORK/cloud/models" "$WORK/tokens"
cp "$SRC/tests/fixtures/vit_tiny.safetensors" "$WORK/cloud/models/foundation.safetensors"
for i in $(seq 0 $((EDGES - 1))); do
  "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" add-edge --edge "e$i" --token-out "$WORK/tokens/e$i.token" > /dev/null
done
start_cloud() { "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve >> "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!; }

start_cloud
wait_for_port "$P_CLOUD" || fail "bt-cloud did not start"
# The pusher runs until the cycles are done (TERM); its --seconds is only a backstop.
"$BUILD/bt-fault-pusher" --cloud "127.0.0.1:$P_CLOUD" --edges "$EDGES" --token-dir "$WORK/tokens" \
  --seconds 3600 --acked "$WORK/acked.jsonl" --work "$WORK/edges" > "$WORK/pusher.log" 2>&1 &
PUSHER_PID=$!
echo "== $CYCLES kill -9 cycles during concurrent pushes"
for c in $(seq 1 "$CYCLES"); do
  # 1.0 to 2.9 s of pushing, counted from when the cloud listens (its start-up is slow on a loaded machine).
  sleep "$(( (RANDOM % 20) / 10 + 1 )).$(( RANDOM % 10 ))"
  kill -KILL "$CLOUD_PID"; wait "$CLOUD_PID" 2>/dev/null || true
  start_cloud
  wait_for_port "$P_CLOUD" || fail "bt-cloud did not come back after kill $c"
done
sleep 2   # pushes to the last restarted cloud
kill -TERM "$PUSHER_PID"; wait "$PUSHER_PID" || fail "the pusher failed"; PUSHER_PID=""
cat "$WORK/pusher.log"
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not stop cleanly"
echo "== restart (the start-up sweep), then the checks"
start_cloud
wait_for_port "$P_CLOUD" || fail "bt-cloud did not come back"
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not stop cleanly after the sweep"; CLOUD_PID=""

$PY - "$WORK/cloud" "$WORK/acked.jsonl" "$CYCLES" <<'PY' || fail "a check failed"
import hashlib, json, os, sqlite3, sys
data, acked_path, cycles = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = sqlite3.connect(os.path.join(data, "blocktrainer.db"))
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
versions = {}
referenced = set()
for edge, version, blocks in db.execute("SELECT edge_id, version, blocks FROM versions"):
    b = dict(json.loads(blocks))
    versions[(edge, version)] = b
    referenced.update(b.values())
acked = [json.loads(l) for l in open(acked_path)] if os.path.exists(acked_path) else []
lost = [a for a in acked if versions.get((a["edge"], a["version"]), {}).get(a["block"]) != a["digest"]]
bad, orphans, temporary, files = [], [], [], 0
store = os.path.join(data, "blocks")
for root, _, names in os.walk(store):
    for n in names:
        path = os.path.join(root, n)
        if ".tmp." in n:
            temporary.append(path); continue
        if not n.endswith(".safetensors"):
            continue
        files += 1
        digest = n[:-len(".safetensors")]
        if hashlib.sha256(open(path, "rb").read()).hexdigest() != digest:
            bad.append(path)
        if digest not in referenced:
            orphans.append(path)
print(f"cycles {cycles}, pushes acknowledged {len(acked)}, lost {len(lost)}, versions {len(versions)}, "
      f"block files {files}, bad files {len(bad)}, orphans {len(orphans)}, temporary files {len(temporary)}, "
      f"integrity_check {integrity}")
assert integrity == "ok", integrity
assert not lost, lost[:3]
assert not bad and not orphans and not temporary, (bad[:3], orphans[:3], temporary[:3])
assert len(acked) > 0, "no push was acknowledged: the harness exercised nothing"
PY
echo "PASS"
