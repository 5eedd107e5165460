#!/bin/bash
# Soak: `diameter serve` answers 1,000,000 validated requests from `diameter bench` with none
# unanswered, and its resident memory after a warm-up and at the end stay within 5 %.
#
#   scripts/soak.sh [BIN=target/release/diameter] [requests=1000000] [concurrency=256]
set -euo pipefail
BIN=${1:-target/release/diameter} N=${2:-1000000} C=${3:-256}
PORT=$((20000 + RANDOM % 20000))
TMP=$(mktemp -d)
"$BIN" serve --listen "127.0.0.1:$PORT" >"$TMP/serve.log" 2>&1 &
SP=$!
trap 'kill $SP 2>/dev/null || true; rm -rf "$TMP"' EXIT
sleep 0.5
rss() { awk '/^VmRSS/ {print $2}' "/proc/$SP/status"; }
timeout 300 "$BIN" bench --connect "127.0.0.1:$PORT" --requests 100000 --concurrency "$C" --json >"$TMP/warm.json"
WARM=$(rss)
timeout 600 "$BIN" bench --connect "127.0.0.1:$PORT" --requests "$N" --concurrency "$C" --json >"$TMP/soak.json"
END=$(rss)
python3 - "$TMP/soak.json" "$WARM" "$END" "$N" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
warm, end, n = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
growth = (end - warm) / warm * 100
print(f"requests {d['requests']} answered {d['answered']} success {d['success']} errors {d['errors']}"
      f"  {int(d['rps'])} answers/s  p50 {d['p50_us']} us  p99 {d['p99_us']} us")
print(f"serve RSS after warm-up {warm} KiB, at the end {end} KiB ({growth:+.1f} %)")
ok = d['answered'] == n and d['success'] == n and abs(growth) <= 5.0
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
