#!/bin/bash
# Latency at 1 in flight: `serve` and `bench` of one binary on loopback, with both processes
# on the same CPU and on different CPUs, beside the floor of this machine: a blocking Python
# socket echo of the same sizes pinned the same way. On small VMs the cross-CPU figures are
# dominated by waking an idle vCPU (tens of µs per wakeup, for any program), so compare each
# row with its floor.
#
# A third row per placement runs both with `--busy-poll` (BUSY_POLL µs, 50 by default): the
# connections poll instead of sleeping after traffic, so no idle vCPU is woken per message;
# it also prints the CPU that costs per request on each side.
#
#   scripts/bench-latency.sh BIN [requests=10000] [rounds=3]
set -euo pipefail
BIN=$1 N=${2:-10000} ROUNDS=${3:-3} BP=${BUSY_POLL:-50}
CPUS=$(nproc)
if [ "$CPUS" -lt 2 ]; then
    echo "needs 2 CPUs" >&2
    exit 1
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat >"$TMP/echo.py" <<'PY'
import socket, sys, time
port, n = int(sys.argv[2]), int(sys.argv[3])
if sys.argv[1] == "server":
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(1)
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pending = 0
    while True:
        d = c.recv(4096)
        if not d:
            break
        # One 160-byte answer per whole 276-byte request, however the bytes arrive.
        pending += len(d)
        while pending >= 276:
            pending -= 276
            c.sendall(b"a" * 160)
else:
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ts = []
    for _ in range(n):
        t = time.perf_counter_ns(); c.sendall(b"r" * 276); got = 0
        while got < 160:
            got += len(c.recv(4096))
        ts.append(time.perf_counter_ns() - t)
    ts.sort()
    print(f"p50 {ts[n // 2] // 1000} us  p99 {ts[n * 99 // 100] // 1000} us")
PY
port=4400
for r in $(seq "$ROUNDS"); do
    for pair in "0 0" "0 1"; do
        set -- $pair
        where=$([ "$1" = "$2" ] && echo "same CPU " || echo "two CPUs ")
        port=$((port + 1))
        taskset -c "$1" python3 "$TMP/echo.py" server "$port" 0 &
        sp=$!
        sleep 0.3
        echo "round $r $where floor (python echo)  $(taskset -c "$2" timeout 120 python3 "$TMP/echo.py" client "$port" "$N")"
        wait "$sp" 2>/dev/null || true
        port=$((port + 1))
        taskset -c "$1" "$BIN" serve --listen "127.0.0.1:$port" >/dev/null 2>&1 &
        sp=$!
        sleep 0.5
        taskset -c "$2" timeout 120 "$BIN" bench --connect "127.0.0.1:$port" --requests "$N" \
            --concurrency 1 --json >"$TMP/out.json" 2>/dev/null || true
        kill "$sp"; wait "$sp" 2>/dev/null || true
        python3 - "$TMP/out.json" "round $r $where serve + bench     " <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{sys.argv[2]} p50 {d['p50_us']} us  p99 {d['p99_us']} us  errors {d['errors']}")
PY
        port=$((port + 1))
        taskset -c "$1" "$BIN" serve --listen "127.0.0.1:$port" --busy-poll "$BP" >/dev/null 2>&1 &
        sp=$!
        sleep 0.5
        local_time=$( { TIMEFORMAT='%U %S'; time taskset -c "$2" timeout 120 "$BIN" bench \
            --connect "127.0.0.1:$port" --requests "$N" --concurrency 1 --busy-poll "$BP" \
            --json >"$TMP/out.json" 2>/dev/null || true; } 2>&1 )
        ticks=$(awk '{print $14+$15}' "/proc/$sp/stat")
        kill "$sp"; wait "$sp" 2>/dev/null || true
        python3 - "$TMP/out.json" "round $r $where busy-poll $BP us   " "$ticks" "$(getconf CLK_TCK)" \
            "$N" "$local_time" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ticks, hz, n = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
u, s = map(float, sys.argv[6].split())
print(f"{sys.argv[2]} p50 {d['p50_us']} us  p99 {d['p99_us']} us  errors {d['errors']}"
      f"  CPU per request: serve {ticks / hz * 1e6 / n:.0f} us, bench {(u + s) * 1e6 / n:.0f} us")
PY
    done
done
