#!/usr/bin/env bash
# bench/irc.sh — the same IRC load against sockit, ngircd and InspIRCd, in one run.
#
#   bench/irc.sh                  # full run
#   SECS=5 bench/irc.sh           # shorter
#   SERVERS="ngircd inspircd" bench/irc.sh   # a subset of servers
#   LOADS=B bench/irc.sh                     # a subset of loads (A, B)
#
# Loads (the generator is `sockit bench chat --irc`, on the same machine):
#   A  1,000 members in one channel, 50 senders x 100 msg/s (5 M deliveries/s offered), SECS seconds
#   B  10,000 idle IRC clients (registered, in no channel) held IDLE_SECS seconds: the server's peak RSS
# Each server runs from a generated config in a temp dir, on a private loopback port, with its
# connection and flood limits raised so the load is legal (never the system service):
#   ngircd    MaxConnectionsIP=0, MaxPenaltyTime=0 (no command penalties), user mode F (relaxed flood
#             protection) for everyone, no DNS/ident. It listens with a backlog of 10 and accepts
#             slowly, so the generator opens connections 10 at a time (--connect-parallel 10) for all
#             servers alike.
#   InspIRCd  one connect class: no fakelag, commandrate/threshold far above the load, sendq 64 MiB,
#             localmax/globalmax 100,000, no DNS/ident.
#   sockit    `chat serve --irc-port 0` — skipped with "sockit IRC not built yet" while `--irc-port`
#             is unknown to the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-10}
MEMBERS=${MEMBERS:-1000}
SENDERS=${SENDERS:-50}
RATE=${RATE:-100}
IDLE=${IDLE:-10000}
IDLE_SECS=${IDLE_SECS:-5}
SERVERS=${SERVERS:-"sockit ngircd inspircd"}
LOADS=${LOADS:-"A B"}
PAR=10

for tool in ngircd inspircd; do
  [[ " $SERVERS " == *" $tool "* ]] || continue
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install $tool)"; exit 1; }
done
cargo build --release -q -p sockit
BIN=target/release/sockit
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # port pid
  for _ in $(seq 200); do
    kill -0 "$2" 2>/dev/null || return 1
    python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),0.2).close()' "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# Each start_* sets SPID and SPORT, or returns 1.
start_ngircd() {
  local d="$TMP/ngircd"; mkdir -p "$d/conf.d"; SPORT=$(free_port)
  cat >"$d/ngircd.conf" <<EOF
[Global]
	Name = ngircd.bench.local
	Info = sockit bench
	Listen = 127.0.0.1
	Ports = $SPORT
	MotdPhrase = bench
[Limits]
	MaxConnections = 0
	MaxConnectionsIP = 0
	MaxJoins = 0
	MaxNickLength = 31
	MaxPenaltyTime = 0
	PingTimeout = 600
	PongTimeout = 600
[Options]
	DNS = no
	Ident = no
	PAM = no
	DefaultUserModes = F
	IncludeDir = $d/conf.d
EOF
  ngircd -n -f "$d/ngircd.conf" >"$d/log" 2>&1 &
  SPID=$!; PIDS+=("$SPID"); wait_port "$SPORT" "$SPID"
}
start_inspircd() {
  local d="$TMP/inspircd"; mkdir -p "$d"; SPORT=$(free_port); echo bench >"$d/motd"
  cat >"$d/inspircd.conf" <<EOF
<server name="inspircd.bench.local" description="sockit bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="$SPORT" type="clients">
<connect name="bench" allow="127.0.0.1" timeout="120" pingfreq="600" threshold="1000000" commandrate="100000000"
         fakelag="no" hardsendq="67108864" softsendq="1048576" recvq="1048576" localmax="100000" globalmax="100000"
         maxconnwarn="no" resolvehostnames="no" useident="no" limit="100000" maxchans="100">
<channels users="100" opers="100">
<pid file="$d/inspircd.pid">
<performance netbuffersize="10240" somaxconn="1024" softlimit="20000" clonesonconnect="no" quietbursts="yes">
<limits maxnick="30">
<files motd="$d/motd">
EOF
  inspircd --runasroot --nofork --config="$d/inspircd.conf" >"$d/log" 2>&1 &
  SPID=$!; PIDS+=("$SPID"); wait_port "$SPORT" "$SPID"
}
start_sockit() {
  if ! "$BIN" chat serve --help 2>/dev/null | grep -q -- '--irc-port'; then
    echo "sockit IRC not built yet (chat serve has no --irc-port): sockit column skipped" >&2
    return 1
  fi
  "$BIN" -q chat serve --port 0 --irc-port 0 --no-web --no-history --flood-rate 0 \
    --max-members 20000 --max-per-ip 20000 2>"$TMP/serve.log" &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 100); do grep -q 'listening on irc://' "$TMP/serve.log" && break; sleep 0.05; done
  SPORT=$(grep -o 'listening on irc://[^ ]*' "$TMP/serve.log" | head -1 | sed 's/.*://')
  [ -n "$SPORT" ]
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1" | head -1; }
rss_mb() { awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
report() { # name line rss
  printf '%-10s deliveries/s=%-9s ratio=%-7s p50_ms=%-8s p99_ms=%-8s disconnected=%-5s peak_rss_mb=%s\n' "$1" \
    "$(field "$2" deliveries_per_sec)" "$(field "$2" ratio)" \
    "$(awk -v u="$(field "$2" p50_us)" 'BEGIN{printf "%.2f", u/1000}')" \
    "$(awk -v u="$(field "$2" p99_us)" 'BEGIN{printf "%.2f", u/1000}')" "$(field "$2" disconnected)" "$3"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a != "" && b > 0) printf "%.2f", a/b; else print "n/a" }'; }

declare -A A_OUT B_OUT B_RSS
[[ " $LOADS " == *" A "* ]] && echo "== A: $MEMBERS members in #bench, $SENDERS senders x $RATE msg/s, ${SECS}s ($(nproc) cores, load generator on the same machine)"
for s in $SERVERS; do
  [[ " $LOADS " == *" A "* ]] || break
  "start_$s" || { echo "$s: did not start" >&2; continue; }
  A_OUT[$s]=$("$BIN" bench chat "127.0.0.1:$SPORT" --irc --members "$MEMBERS" --senders "$SENDERS" --rate "$RATE" \
    --secs "$SECS" --connect-parallel "$PAR" 2>"$TMP/load.err" | tail -1 || true)
  report "$s" "${A_OUT[$s]}" "$(rss_mb "$SPID")"
  [ -n "${A_OUT[$s]}" ] || sed 's/^/   /' "$TMP/load.err" >&2
  stop "$SPID"
done

[[ " $LOADS " == *" B "* ]] && echo "== B: $IDLE idle IRC clients (registered, no channel), held ${IDLE_SECS}s"
for s in $SERVERS; do
  [[ " $LOADS " == *" B "* ]] || break
  "start_$s" || continue
  B_OUT[$s]=$("$BIN" bench chat "127.0.0.1:$SPORT" --irc --members "$IDLE" --senders 0 --secs "$IDLE_SECS" \
    --connect-parallel "$PAR" 2>"$TMP/load.err" | tail -1 || true)
  B_RSS[$s]=$(rss_mb "$SPID")
  printf '%-10s clients=%-6s disconnected=%-5s peak_rss_mb=%s\n' "$s" "$(field "${B_OUT[$s]}" members)" \
    "$(field "${B_OUT[$s]}" disconnected)" "${B_RSS[$s]}"
  [ -n "${B_OUT[$s]}" ] || sed 's/^/   /' "$TMP/load.err" >&2
  stop "$SPID"
done

echo "== ratios (A deliveries/s, A p99, B RSS)"
set -- $SERVERS
for a in "$@"; do for b in "$@"; do
  [ "$a" \< "$b" ] || continue
  echo "   $a/$b deliveries/s: $(ratio "$(field "${A_OUT[$a]:-}" deliveries_per_sec)" "$(field "${A_OUT[$b]:-}" deliveries_per_sec)")x;" \
    "p99: $(ratio "$(field "${A_OUT[$a]:-}" p99_us)" "$(field "${A_OUT[$b]:-}" p99_us)")x;" \
    "idle RSS: $(ratio "${B_RSS[$a]:-}" "${B_RSS[$b]:-}")x"
done; done
echo
echo "raw:"
for s in $SERVERS; do printf '  A %-9s %s\n  B %-9s %s\n' "$s" "${A_OUT[$s]:-}" "$s" "${B_OUT[$s]:-}"; done
