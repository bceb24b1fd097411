#!/usr/bin/env bash
# bench/chat-cluster.sh — two chat nodes sharing a room through one
# redis-server, beside one node alone, under the same load, in one run.
#
#   bench/chat-cluster.sh                     # full run (about a minute)
#   SECS=5 MEMBERS=200 bench/chat-cluster.sh  # shorter
#   BIN=target/debug/sockit bench/chat-cluster.sh   # no release build (figures not comparable)
#
# Load: MEMBERS (1,000) members in one room, SENDERS (10) x RATE (100) msg/s
# for SECS (10) s; every member reads everything. The load generator is
# `sockit bench chat` on the same machine; in the cluster run it spreads
# members (senders too) evenly over both nodes (`--target`).
# Printed: ratio (deliveries / expected) and p50/p99 for both runs, the
# latency the Redis hop adds (p50 and p99 differences), and redis-server's
# CPU per message (utime+stime from /proc/PID/stat before/after ÷ messages).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
MEMBERS=${MEMBERS:-1000}
SENDERS=${SENDERS:-10}
RATE=${RATE:-100}

command -v redis-server >/dev/null || { echo "redis-server is not installed (apt-get install redis-server)"; exit 1; }
if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p sockit
  BIN=target/release/sockit
fi
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
redis_ping() { python3 - "$1" <<'PY'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(16).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
PY
}
# CPU seconds (user + system) redis-server has used so far.
redis_cpu() { sed 's/.*) //' "/proc/$RPID/stat" | awk -v hz="$(getconf CLK_TCK)" '{printf "%.4f", ($12 + $13) / hz}'; }

# Starts a chat node with extra flags; sets SPID and SPORT. $1 names its log.
start_node() {
  local log="$TMP/$1.log"; shift
  "$BIN" -q chat serve --port 0 --no-web --no-irc --no-history --flood-rate 0 \
    --max-members 20000 --max-per-ip 20000 "$@" 2>"$log" &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 200); do grep -q 'listening on tcp' "$log" && break; sleep 0.05; done
  grep -q 'listening on tcp' "$log" || { echo "node did not start:"; cat "$log"; exit 1; }
  SPORT=$(grep -o 'listening on tcp://[^ ]*' "$log" | head -1 | sed 's/.*://')
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1" | head -1; }
ms() { awk -v u="$1" 'BEGIN{printf "%.2f", u/1000}'; }
load() { "$BIN" bench chat "$@" --members "$MEMBERS" --senders "$SENDERS" --rate "$RATE" --secs "$SECS" | tail -1 || true; }
report() { # name line
  printf '%-26s ratio=%-7s p50_ms=%-7s p99_ms=%-7s deliveries/s=%-8s disconnected=%s\n' "$1" \
    "$(field "$2" ratio)" "$(ms "$(field "$2" p50_us)")" "$(ms "$(field "$2" p99_us)")" \
    "$(field "$2" deliveries_per_sec)" "$(field "$2" disconnected)"
}

echo "== $MEMBERS members in one room, $SENDERS senders x $RATE msg/s, ${SECS}s ($(nproc) cores, load generator on the same machine)"

start_node single
ONE=$(load "127.0.0.1:$SPORT")
report "one node" "$ONE"; stop "$SPID"

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
RPID=$!; PIDS+=("$RPID")
for _ in $(seq 100); do redis_ping "$RPORT" && break; sleep 0.05; done
redis_ping "$RPORT" || { echo "redis-server did not start:"; cat "$TMP/redis.log"; exit 1; }
URL="redis://127.0.0.1:$RPORT/0"
start_node node-a --redis "$URL"; APID=$SPID; APORT=$SPORT
start_node node-b --redis "$URL"; BPID=$SPID; BPORT=$SPORT
# Redis CPU is sampled once every member is connected (their nick claims
# and presence writes are not per-message work), and after the run.
"$BIN" bench chat "127.0.0.1:$APORT" --target "127.0.0.1:$BPORT" --members "$MEMBERS" --senders "$SENDERS" \
  --rate "$RATE" --secs "$SECS" >"$TMP/two.out" 2>"$TMP/two.err" &
LPID=$!
for _ in $(seq 1200); do grep -q '^connected' "$TMP/two.err" && break; sleep 0.05; done
CPU0=$(redis_cpu)
have_cli() { command -v redis-cli >/dev/null; }
have_cli && redis-cli -p "$RPORT" CONFIG RESETSTAT >/dev/null
wait "$LPID" || true
CPU1=$(redis_cpu)
TWO=$(tail -1 "$TMP/two.out")
report "two nodes + redis" "$TWO"; stop "$APID"; stop "$BPID"

SENT=$(field "$TWO" sent)
hop() { awk -v a="$(field "$ONE" "$1")" -v b="$(field "$TWO" "$1")" 'BEGIN{printf "%+.2f", (b - a) / 1000}'; }
echo "   the Redis hop adds: p50 $(hop p50_us) ms, p99 $(hop p99_us) ms"
awk -v a="$CPU0" -v b="$CPU1" -v n="$SENT" 'BEGIN{
  if (n > 0) printf "   redis-server CPU: %.3f s for %d messages = %.1f us per message (heartbeats and nick refreshes of the run included)\n", b - a, n, (b - a) * 1e6 / n
}'
# Where Redis spends it (its own per-command timing, since the reset).
if have_cli; then
  echo "   redis-server time by command (calls, us in all, us per call):"
  redis-cli -p "$RPORT" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),usec_per_call=\([0-9.]*\).*/\3 \1 \2 \4/p' |
    sort -rn | head -6 | awk '{printf "     %-12s %8d calls %10d us %8.2f us/call\n", $2, $3, $1, $4}'
fi
echo
echo "raw:"
echo "  one node:  $ONE"
echo "  two nodes: $TWO"
