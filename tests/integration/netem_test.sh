#!/usr/bin/env bash
# A bad link, made with `tc netem` in a network namespace of the test's own (loopback only; removed afterwards):
# 100 ms each way (200 ms round trip), 1% loss, 10 Mbit/s, applied to one edge's connections only (through a TCP
# relay on a shaped port). Checks: the shaped edge's pull completes; an unshaped edge pulling at the same time is
# not held up by it; and a pull cut off mid-way (the relay killed) resumes from its partial files instead of starting
# over. Needs root for `ip netns` (skipped, exit 77, otherwise).
#
# Usage: tests/integration/netem_test.sh BUILD_DIR
set -euo pipefail
BUILD="$(cd "${1:-build}" && pwd)"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
. "$SRC/tests/integration/lib.sh"
NS="bt-netem-$$"
if ! ip netns add "$NS" 2>/dev/null; then echo "SKIP: cannot create a network namespace (needs root and iproute2)"; exit 77; fi
WORK="$(mktemp -d /tmp/bt-netem.XXXXXX)"
IN=(ip netns exec "$NS")
CLOUD_PID=""; RELAY_PID=""
cleanup() {
  [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null || true
  [ -n "$CLOUD_PID" ] && kill -TERM "$CLOUD_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  remove_work
}
trap cleanup EXIT
P=50551; A=50552; Q=50553   # a fresh namespace: every port is free
"${IN[@]}" ip link set lo up
# Everything unshaped (band 1:1) except traffic to or from the relay port Q (band 1:3, netem). A kernel without
# sch_netem or sch_prio (this project's VMs have neither) gets the delay, the rate and the stalls of 1% loss from the
# relay instead.
SHAPE=netem
if "${IN[@]}" tc qdisc add dev lo root handle 1: prio bands 3 priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 2>/dev/null &&
   "${IN[@]}" tc qdisc add dev lo parent 1:3 handle 30: netem delay 100ms loss 1% rate 10mbit 2>/dev/null; then
  "${IN[@]}" tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport "$Q" 0xffff flowid 1:3
  "${IN[@]}" tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport "$Q" 0xffff flowid 1:3
else
  SHAPE=relay
  echo "(no tc qdiscs in this kernel: the relay delays each direction by 100 ms, paces it at 10 Mbit/s and stalls 1% of"
  echo " segments for a 200 ms retransmission timeout, as a lost segment holds a TCP stream)"
fi

"$BUILD/bt-fault-puller" --write-model "$WORK/model.safetensors" --hidden 192 --mlp 768 --layers 2
cat > "$WORK/cloud.yaml" <<YAML
cloud: {data_dir: $WORK/cloud, listen: 127.0.0.1:$P, admin_listen: 127.0.0.1:$A, log_level: warn}
model: {name: netem, path: $WORK/model.safetensors}
YAML
for e in fast slow; do
  "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" add-edge --edge "$e" --token-out "$WORK/$e.token" > /dev/null
done
"${IN[@]}" "$BUILD/bt-cloud" -c "$WORK/cloud.yaml" serve > "$WORK/cloud.log" 2>&1 & CLOUD_PID=$!
cat > "$WORK/relay.py" <<'PY'
import collections, random, socket, sys, threading, time
listen, target, shape = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "relay"
DELAY, RATE = 0.100, 10e6 / 8  # seconds each way, bytes per second (used when the kernel cannot shape)
# 1% loss as TCP shows it above the socket: a lost segment holds the stream for a retransmission timeout (≥ 200 ms).
LOSS, RTO = 0.01, 0.200
random.seed(listen)
def close(a, b):
    for s in (a, b):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def pipe(a, b):
    if not shape:
        try:
            while True:
                data = a.recv(1 << 16)
                if not data: break
                b.sendall(data)
        except OSError:
            pass
        close(a, b)
        return
    # A delay line: what arrives at t leaves at t + DELAY, paced at RATE.
    queue, ready = collections.deque(), threading.Condition()
    def send():
        while True:
            with ready:
                while not queue: ready.wait()
                at, data = queue.popleft()
            if data is None: break
            time.sleep(max(0.0, at + DELAY - time.monotonic()))
            try:
                for i in range(0, len(data), 1460):  # one segment at a time
                    if random.random() < LOSS: time.sleep(RTO)
                    b.sendall(data[i:i + 1460]); time.sleep(len(data[i:i + 1460]) / RATE)
            except OSError:
                break
        close(a, b)
    threading.Thread(target=send, daemon=True).start()
    try:
        while True:
            data = a.recv(1 << 16)
            if not data: break
            with ready: queue.append((time.monotonic(), data)); ready.notify()
    except OSError:
        pass
    with ready: queue.append((time.monotonic(), None)); ready.notify()
server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen)); server.listen(16)
while True:
    client, _ = server.accept()
    upstream = socket.create_connection(("127.0.0.1", target))
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
PY
start_relay() { "${IN[@]}" "$PY" "$WORK/relay.py" "$Q" "$P" "$SHAPE" & RELAY_PID=$!; }
start_relay
"${IN[@]}" bash -c "$(declare -f wait_for_port); PY=$PY; wait_for_port $P && wait_for_port $Q" || fail "bt-cloud or the relay did not start"
pull() {  # pull EDGE PORT STORE
  "${IN[@]}" "$BUILD/bt-fault-puller" --cloud "127.0.0.1:$2" --edge "$1" --token-file "$WORK/$1.token" --store "$WORK/$3"
}
field() { echo "$1" | json "$2"; }

echo "== the unshaped edge alone"
FAST_ALONE=$(pull fast "$P" fast1); echo "$FAST_ALONE"
echo "== the shaped edge ($SHAPE: 200 ms round trip, 10 Mbit/s) and the unshaped one at the same time"
pull slow "$Q" slow1 > "$WORK/slow1.json" & SLOW_PID=$!
sleep 0.3
FAST_BUSY=$(pull fast "$P" fast2); echo "$FAST_BUSY"
wait "$SLOW_PID" || fail "the shaped pull failed"
SLOW=$(cat "$WORK/slow1.json"); echo "$SLOW"
TOTAL=$(field "$SLOW" 'd["bytes"][-1]')
$PY - "$FAST_ALONE" "$FAST_BUSY" "$SLOW" <<'PY' || fail "the link check failed"
import json, sys
alone, busy, slow = (json.loads(a) for a in sys.argv[1:4])
assert alone["ok"] and busy["ok"] and slow["ok"]
# The shaping must be real for the rest to mean anything: the shaped pull is much slower than the unshaped one.
assert slow["seconds"] > 3 * alone["seconds"], ("the link was not shaped", slow, alone)
# A slow edge does not slow the others: the unshaped pull next to it stays within 1 s + 2× its time alone.
assert busy["seconds"] < 2 * alone["seconds"] + 1.0, ("the unshaped pull was held up", busy, alone)
print(f"unshaped pull {alone['seconds']:.2f} s alone, {busy['seconds']:.2f} s beside the shaped one "
      f"({slow['seconds']:.2f} s for {slow['bytes'][-1]} bytes)")
PY
echo "== the shaped pull cut off mid-way (relay killed) resumes"
pull slow "$Q" slow2 > "$WORK/slow2.json" 2> "$WORK/slow2.err" & SLOW_PID=$!
# Cut it once the first block has arrived (the rest takes seconds more over the shaped link).
for _ in $(seq 1 600); do
  [ -n "$(find "$WORK/slow2" -name '*.safetensors' 2>/dev/null)" ] && break
  sleep 0.05
done
[ -n "$(find "$WORK/slow2" -name '*.safetensors' 2>/dev/null)" ] || fail "no block arrived over the shaped link"
kill -KILL "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null || true
sleep 0.5
start_relay
wait "$SLOW_PID" || fail "the cut-off pull did not complete"
RESUMED=$(cat "$WORK/slow2.json"); echo "$RESUMED"
$PY - "$RESUMED" "$TOTAL" <<'PY' || fail "the pull did not resume"
import json, sys
r, total = json.loads(sys.argv[1]), int(sys.argv[2])
assert r["ok"] and r["attempts"] >= 2, r
# The attempt that completed moved less than the whole head: it went on from the partial files.
assert 0 < r["bytes"][-1] < total, (r, total)
print(f"resumed: {r['attempts']} attempts, the last one moved {r['bytes'][-1]} of {total} bytes")
PY
echo "PASS"
