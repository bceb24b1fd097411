#!/usr/bin/env bash
# SNTP throughput and latency: sockit vs chronyd, both on loopback, measured
# by the same load generator (`sockit bench sntp`) in one run.
#
#   bench/time.sh                    # 16 concurrent clients, 2 rounds of 5 s per server
#   SECS=10 CONC=64 ROUNDS=3 bench/time.sh
#
# Rounds alternate sockit and chronyd so drift in the machine's load hits
# both; the summary is the mean of the rounds.
#
# sockit runs with --no-rate-limit: every load client shares 127.0.0.1, and
# the default per-client limit (8 at once, 0.5/s) would answer almost all of
# them with kiss-o'-death RATE. chronyd does no rate limiting unless its
# config says `ratelimit`, and the config below does not: both serve every
# request. chronyd runs with -x (never touches the system clock), as a
# `local stratum 8` server, from a temporary config and directory.
set -euo pipefail

SECS=${SECS:-5}
CONC=${CONC:-16}
ROUNDS=${ROUNDS:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

command -v chronyd >/dev/null || { echo "chronyd is missing: apt-get install chrony" >&2; exit 1; }
cargo build --release -q -p sockit
BIN=$ROOT/target/release/sockit

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# --- sockit, SNTP only, port chosen by the kernel.
"$BIN" -q time serve --no-strftime --no-daytime --no-time --sntp-port 0 --no-rate-limit 2>"$TMP/sockit.err" &
PIDS+=($!)
for _ in $(seq 100); do
    grep -q '^listening on udp://' "$TMP/sockit.err" 2>/dev/null && break
    sleep 0.1
done
SOCKIT_ADDR=$(sed -n 's|^listening on udp://||p' "$TMP/sockit.err" | head -1)
[ -n "$SOCKIT_ADDR" ] || { echo "sockit did not start:" >&2; cat "$TMP/sockit.err" >&2; exit 1; }

# --- chronyd as a server on a free port.
CHRONY_PORT=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/chrony.conf" <<CONF
port $CHRONY_PORT
bindaddress 127.0.0.1
allow 127.0.0.1
local stratum 8
cmdport 0
pidfile $TMP/chronyd.pid
driftfile $TMP/chrony.drift
CONF
chronyd -x -d -u "$(id -un)" -f "$TMP/chrony.conf" >"$TMP/chronyd.log" 2>&1 &
PIDS+=($!)
CHRONY_ADDR=127.0.0.1:$CHRONY_PORT
for _ in $(seq 50); do
    "$BIN" -q time query "$CHRONY_ADDR" --proto sntp --timeout 0.3 >/dev/null 2>&1 && break
    sleep 0.2
done
"$BIN" -q time query "$CHRONY_ADDR" --proto sntp >/dev/null \
    || { echo "chronyd does not answer:" >&2; cat "$TMP/chronyd.log" >&2; exit 1; }

echo "SNTP load: $CONC clients, ${SECS} s per server per round, $ROUNDS rounds (alternating), loopback, $(nproc) cores"
field() { grep '^mode=sntp' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
for r in $(seq "$ROUNDS"); do
    echo "--- round $r: sockit ($SOCKIT_ADDR)"
    "$BIN" bench sntp "$SOCKIT_ADDR" --secs "$SECS" --concurrency "$CONC" | tee -a "$TMP/sockit.out"
    echo "--- round $r: chronyd $(chronyd -v | awk '{print $4}') ($CHRONY_ADDR)"
    "$BIN" bench sntp "$CHRONY_ADDR" --secs "$SECS" --concurrency "$CONC" | tee -a "$TMP/chronyd.out"
done
mean() { field "$1" "$2" | awk '{ s += $1; n++ } END { printf "%.0f", n ? s / n : 0 }'; }
S_RPS=$(mean "$TMP/sockit.out" rps); C_RPS=$(mean "$TMP/chronyd.out" rps)
S_P99=$(mean "$TMP/sockit.out" p99_us); C_P99=$(mean "$TMP/chronyd.out" p99_us)
S_P50=$(mean "$TMP/sockit.out" p50_us); C_P50=$(mean "$TMP/chronyd.out" p50_us)
echo "--- mean of $ROUNDS rounds"
echo "sockit  $S_RPS replies/s  p50 $S_P50 µs  p99 $S_P99 µs"
echo "chronyd $C_RPS replies/s  p50 $C_P50 µs  p99 $C_P99 µs"
awk -v s="$S_RPS" -v c="$C_RPS" 'BEGIN { if (c > 0) printf "ratio (sockit / chronyd, replies/s): %.2fx\n", s / c }'
