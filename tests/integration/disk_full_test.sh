#!/usr/bin/env bash
# The cloud's disk fills up under concurrent pushes: bt-cloud's data directory is a small tmpfs (the checkpoint lives
# elsewhere). Pushes that do not fit fail cleanly; the daemon keeps serving; every acknowledged push is intact,
# `PRAGMA integrity_check` is ok, no temporary file is left; once there is room again pushes succeed.
# Needs root for the tmpfs mount (skipped, exit 77, otherwise).
#
# Usage: tests/integration/disk_full_test.sh BUILD_DIR
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d /tmp/bt-diskfull.XXXXXX)"
. "$SRC/tests/integration/lib.sh"
CLOUD_PID=""
mkdir -p "$WORK/cloud" "$WORK/tokens"
if ! mount -t tmpfs -o size=1536k tmpfs "$WORK/cloud" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs (needs root)"; rm -rf "$WORK"; exit 77
fi
cleanup() {
  [ -n "$CLOUD_PID" ] && kill -KILL "$CLOUD_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  umount "$WORK/cloud" 2>/dev/null || true
  remove_work
}
trap cleanup EXIT
P_CLOUD=$(free_port); P_ADMIN=$(free_port)
cp "$SRC/tests/fixtures/vit_tiny.safetensors" "$WORK/model.safetensors"
cat > "$WORK/cloud.yaml" <<YAML
cloud: {data_dir: $WORK/cloud, listen: 127.0.0.1:$P_CLOUD, admin_listen: 127.0.0.1:$P_ADMIN, log_level: warn}
model: {name: tiny, path: $WORK/model.safetensors}
YAML
for i in 0 1; do
  "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" add-edge --edge "e$i" --token-out "$WORK/tokens/e$i.token" > /dev/null
done
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve > "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
echo "== pushing into a 1.5 MiB data directory until it is full"
"$BUILD/bt-fault-pusher" --cloud "127.0.0.1:$P_CLOUD" --edges 2 --token-dir "$WORK/tokens" --seconds 12 \
  --acked "$WORK/acked.jsonl" --work "$WORK/edges" | tee "$WORK/pusher.log"
df -k "$WORK/cloud" | tail -1
kill -0 "$CLOUD_PID" 2>/dev/null || fail "bt-cloud died on a full disk"
"$BUILD/bt-cloud" -c "$WORK/cloud.yaml" status --json > /dev/null || fail "bt-cloud does not answer status on a full disk"
ACKED_FULL=$(wc -l < "$WORK/acked.jsonl")
# A full disk is the peer's RESOURCE_EXHAUSTED (retry later), never an internal error.
if grep -q "internal error answered to a peer" "$WORK/cloud.log"; then
  grep "internal error answered" "$WORK/cloud.log" | sort | uniq -c | head -3
  fail "a full disk was answered as an internal error"
fi
echo "== room again (8 MiB): pushes succeed"
mount -o remount,size=8m "$WORK/cloud"
"$BUILD/bt-fault-pusher" --cloud "127.0.0.1:$P_CLOUD" --edges 2 --token-dir "$WORK/tokens" --seconds 2 \
  --acked "$WORK/acked.jsonl" --work "$WORK/edges" | tee -a "$WORK/pusher.log"
[ "$(wc -l < "$WORK/acked.jsonl")" -gt "$ACKED_FULL" ] || fail "no push succeeded after the disk had room again"
kill -TERM "$CLOUD_PID"; wait "$CLOUD_PID" || fail "bt-cloud did not stop cleanly"; CLOUD_PID=""
$PY - "$WORK/cloud" "$WORK/acked.jsonl" <<'PY' || fail "a check failed"
import json, os, sqlite3, sys
data, acked_path = sys.argv[1], sys.argv[2]
db = sqlite3.connect(os.path.join(data, "blocktrainer.db"))
integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
versions = {(e, v): dict(json.loads(b)) for e, v, b in db.execute("SELECT edge_id, version, blocks FROM versions")}
acked = [json.loads(l) for l in open(acked_path)]
lost = [a for a in acked if versions.get((a["edge"], a["version"]), {}).get(a["block"]) != a["digest"]]
temporary = [n for _, _, names in os.walk(os.path.join(data, "blocks")) for n in names if ".tmp." in n]
print(f"pushes acknowledged {len(acked)}, lost {len(lost)}, temporary files {len(temporary)}, integrity_check {integrity}")
assert integrity == "ok" and not lost and not temporary
PY
echo "PASS"
