#!/usr/bin/env bash
# Echo: sockit vs `socat TCP-LISTEN:P,fork,reuseaddr PIPE`, same client, same run.
#   1. one connection streaming 64 KiB writes      -> MB/s echoed (target >= 1.5x socat)
#   2. 1,000 connections, 64-byte ping-pong         -> round trips/s and p99 (target >= 2x)
#   3. 10,000 idle connections held                 -> sockit RSS (target < 200 MiB)
# Usage: bench/echo.sh [SECS]   (default 10 s per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
command -v socat >/dev/null || { echo "socat is needed (apt-get install socat)"; exit 1; }
cargo build --release -q -p sockit
BIN=target/release/sockit
ulimit -n 65536 2>/dev/null || true
sysctl -qw net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null || true

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SOCKIT_PORT=$(free_port)
$BIN -q echo --tcp-only --port "$SOCKIT_PORT" --max-connections 20000 --max-per-ip 20000 2>/dev/null &
pids+=($!); SOCKIT_PID=$!
SOCAT_PORT=$(free_port)
socat TCP-LISTEN:"$SOCAT_PORT",fork,reuseaddr,backlog=4096 PIPE &
pids+=($!)
sleep 0.5

field() { grep -o "$1=[0-9.]*" | head -1 | cut -d= -f2; }
ratio() { python3 -c "a,b=float('$1'),float('$2'); print(f'{a/b:.2f}x' if b>0 else 'n/a')"; }

echo "== 1 connection, 64 KiB writes, ${SECS}s"
s=$($BIN bench echo 127.0.0.1:"$SOCKIT_PORT" --stream -c 1 --size 65536 --secs "$SECS" | tail -1)
o=$($BIN bench echo 127.0.0.1:"$SOCAT_PORT" --stream -c 1 --size 65536 --secs "$SECS" | tail -1)
a=$(echo "$s" | field mb_per_sec); b=$(echo "$o" | field mb_per_sec)
echo "sockit: $a MB/s   socat: $b MB/s   ratio: $(ratio "$a" "$b")"

echo "== 1,000 connections, 64-byte ping-pong, ${SECS}s"
s=$($BIN bench echo 127.0.0.1:"$SOCKIT_PORT" -c 1000 --size 64 --secs "$SECS" | tail -1)
o=$($BIN bench echo 127.0.0.1:"$SOCAT_PORT" -c 1000 --size 64 --secs "$SECS" | tail -1)
a=$(echo "$s" | field rt_per_sec); b=$(echo "$o" | field rt_per_sec)
echo "sockit: $a round trips/s (p99 $(echo "$s" | field p99_us) us)   socat: $b round trips/s (p99 $(echo "$o" | field p99_us) us)   ratio: $(ratio "$a" "$b")"

echo "== 10,000 idle connections held"
rss_before=$(awk '/VmRSS/{print $2}' /proc/$SOCKIT_PID/status)
$BIN bench echo 127.0.0.1:"$SOCKIT_PORT" -c 10000 --hold --secs 3 > /tmp/sockit-hold.$$ &
hold=$!
peak=0
while kill -0 $hold 2>/dev/null; do
  r=$(awk '/VmRSS/{print $2}' /proc/$SOCKIT_PID/status); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.2
done
wait $hold || true
echo "sockit RSS: before $((rss_before/1024)) MiB, peak with 10,000 connections $((peak/1024)) MiB; $(tail -1 /tmp/sockit-hold.$$)"
rm -f /tmp/sockit-hold.$$
