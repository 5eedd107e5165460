#!/bin/bash
# A/B end-to-end comparison of two `diameter` binaries on loopback, run alternately so the
# machine's noise hits both alike. Each run starts `serve` and `bench` from the same binary as
# two processes and prints answers/s, p50/p99 and CPU per request of each process.
#
#   scripts/bench-ab.sh OLD_BIN NEW_BIN [rounds=3] [requests=300000] [concurrency=256]
#
# Build the old one from a worktree, e.g.
#   git worktree add /tmp/old <commit> && CARGO_TARGET_DIR=/tmp/old-target \
#     cargo build --release -p diameter-cli --manifest-path /tmp/old/Cargo.toml
set -euo pipefail
OLD=$1 NEW=$2 ROUNDS=${3:-3} N=${4:-300000} C=${5:-256}
# Extra `serve` options for the new binary only, e.g. SERVE_NEW="--duplicate-cache 0".
SERVE_NEW=${SERVE_NEW:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
one() {
    local bin=$1 port=$2
    shift 2
    "$bin" serve --listen "127.0.0.1:$port" "$@" >/dev/null 2>&1 &
    local sp=$!
    sleep 0.5
    local TIMEFORMAT='%U %S'
    { time timeout 120 "$bin" bench --connect "127.0.0.1:$port" --requests "$N" \
        --concurrency "$C" --json >"$TMP/out.json" 2>/dev/null; } 2>"$TMP/time"
    # utime + stime of serve, in clock ticks (fields 14 and 15).
    local ticks
    ticks=$(awk '{print $14+$15}' "/proc/$sp/stat")
    kill "$sp"; wait "$sp" 2>/dev/null || true
    python3 - "$TMP/out.json" "$TMP/time" "$ticks" "$N" "$(getconf CLK_TCK)" <<'PY'
import json, sys
out, tm, ticks, n, hz = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
d = json.load(open(out))
u, s = map(float, open(tm).read().split())
print(f"{int(d['rps']):>7} answers/s  p50 {d['p50_us']} us  p99 {d['p99_us']} us  errors {d['errors']}"
      f"  serve {ticks / hz * 1e6 / n:.2f} us/req  bench {(u + s) * 1e6 / n:.2f} us/req")
PY
}
for r in $(seq "$ROUNDS"); do
    echo "old $(one "$OLD" 4101)"
    # shellcheck disable=SC2086
    echo "new $(one "$NEW" 4102 $SERVE_NEW)"
done
