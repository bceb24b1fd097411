#!/usr/bin/env bash
# bench/chat.sh — sockit chat serve vs ncat --chat under the same load, in one run.
#
#   bench/chat.sh                 # full run (about 2 minutes)
#   SECS=5 bench/chat.sh          # shorter
#
# Loads (each SECS seconds of sending, members read everything):
#   A  1,000 members, 50 senders x 100 msg/s  (5 M deliveries/s offered)
#      against sockit (history off), sockit (history on) and ncat --chat
#   B  10,000 members in one room, 1 sender x 1 msg/s: sockit only
#      (ncat --chat uses select(), which cannot watch 10,000 sockets), RSS reported.
# The load generator is `sockit bench chat` and runs on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
MEMBERS=${MEMBERS:-1000}
SENDERS=${SENDERS:-50}
RATE=${RATE:-100}
BIG=${BIG:-10000}

command -v ncat >/dev/null || { echo "ncat is not installed (apt-get install ncat)"; exit 1; }
cargo build --release -q -p sockit
BIN=target/release/sockit
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

# Starts sockit chat serve with extra flags; sets SPID and SPORT.
start_sockit() {
  "$BIN" -q chat serve --port 0 --no-web --no-irc --flood-rate 0 --max-members 20000 --max-per-ip 20000 "$@" 2>"$TMP/serve.log" &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 100); do grep -q 'listening on tcp' "$TMP/serve.log" && break; sleep 0.05; done
  SPORT=$(grep -o 'listening on tcp://[^ ]*' "$TMP/serve.log" | head -1 | sed 's/.*://')
}
stop() {
  kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true
  [ "$1" = "${SPID:-}" ] && echo "   server: $(grep -c 'send queue exceeded' "$TMP/serve.log") members dropped as too slow" >&2
  return 0
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1" | head -1; }
rss_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
load() { "$BIN" bench chat "127.0.0.1:$1" --members "$2" --senders "$3" --rate "$4" --secs "$SECS" | tail -1 || true; }
report() { # name line
  printf '%-22s deliveries/s=%-9s ratio=%-7s p50_ms=%-8s p99_ms=%-8s disconnected=%s\n' "$1" \
    "$(field "$2" deliveries_per_sec)" "$(field "$2" ratio)" \
    "$(awk -v u="$(field "$2" p50_us)" 'BEGIN{printf "%.2f", u/1000}')" \
    "$(awk -v u="$(field "$2" p99_us)" 'BEGIN{printf "%.2f", u/1000}')" "$(field "$2" disconnected)"
}

echo "== A: $MEMBERS members, $SENDERS senders x $RATE msg/s, ${SECS}s ($(nproc) cores, load generator on the same machine)"
start_sockit --no-history
A_OFF=$(load "$SPORT" "$MEMBERS" "$SENDERS" "$RATE")
report "sockit (history off)" "$A_OFF"; stop "$SPID"

start_sockit --history "$TMP/chat.db"
A_ON=$(load "$SPORT" "$MEMBERS" "$SENDERS" "$RATE")
report "sockit (history on)" "$A_ON"; stop "$SPID"
echo "   rows stored: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from messages').fetchone()[0])" "$TMP/chat.db")"

NPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ncat --chat -l 127.0.0.1 "$NPORT" --max-conns $((MEMBERS + 10)) </dev/null >/dev/null 2>"$TMP/ncat.log" &
NPID=$!; PIDS+=("$NPID"); sleep 0.5
A_NCAT=$(load "$NPORT" "$MEMBERS" "$SENDERS" "$RATE")
report "ncat --chat" "$A_NCAT"; stop "$NPID"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
echo "   sockit/ncat deliveries/s: $(ratio "$(field "$A_OFF" deliveries_per_sec)" "$(field "$A_NCAT" deliveries_per_sec)")x;" \
  "ncat/sockit p99: $(ratio "$(field "$A_NCAT" p99_us)" "$(field "$A_OFF" p99_us)")x;" \
  "history on/off: $(ratio "$(field "$A_ON" deliveries_per_sec)" "$(field "$A_OFF" deliveries_per_sec)")"

echo "== B: $BIG members in one room, 1 sender x 1 msg/s, ${SECS}s"
start_sockit --no-history
B_OUT=$(load "$SPORT" "$BIG" 1 1)
B_RSS=$(rss_mb "$SPID")
report "sockit $BIG members" "$B_OUT"; stop "$SPID"
echo "   server peak RSS: ${B_RSS} MB"
echo
echo "raw:"
printf '  A sockit off: %s\n  A sockit on:  %s\n  A ncat:       %s\n  B sockit:     %s\n' "$A_OFF" "$A_ON" "$A_NCAT" "$B_OUT"
