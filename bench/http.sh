#!/usr/bin/env bash
# sockit http vs nginx, same folder, same run, with wrk:
#   1. 1 KiB file, wrk -t2 -c64        (requests/s)
#   2. 100 MiB file, wrk -t2 -c4       (bytes/s)
#   3. 1 KiB file, wrk -t2 -c1000      (requests/s, p99 latency)
# nginx: worker_processes auto, sendfile on, access_log off (its own temp
# config and prefix; nothing system-wide is touched). Both servers run on
# this machine together with wrk, so they share its cores.
# DUR=10 (seconds per run) can be lowered for a quick look.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${DUR:-10}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "nginx is not installed (apt-get install nginx-light)"; exit 1; }

cargo build --release -q -p sockit
tmp=$(mktemp -d)
chmod 755 "$tmp" # nginx workers may run as another user
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

site=$tmp/site
mkdir -p "$site" "$tmp/nginx/logs"
head -c 1024 /dev/urandom >"$site/1k.bin"
head -c $((100 << 20)) /dev/urandom >"$site/100m.bin"

# sockit: quiet (no access log, like nginx's access_log off).
target/release/sockit -q http "$site" --port 0 2>"$tmp/sockit.log" &
pids+=($!)
for _ in $(seq 100); do grep -q 'listening on' "$tmp/sockit.log" && break; sleep 0.05; done
S=$(sed -n 's|^listening on http://||p' "$tmp/sockit.log" | head -1)
[ -n "$S" ] || { cat "$tmp/sockit.log"; exit 1; }

NP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$tmp/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NP;
    root $site;
  }
}
CONF
"$NGINX" -c "$tmp/nginx.conf" -p "$tmp/nginx" 2>"$tmp/nginx/stderr.log" &
pids+=($!)
N=127.0.0.1:$NP
for _ in $(seq 100); do curl -sf -o /dev/null "http://$N/1k.bin" && break; sleep 0.05; done
curl -sf -o /dev/null "http://$S/1k.bin" || { echo "sockit is not answering"; exit 1; }
curl -sf -o /dev/null "http://$N/1k.bin" || { echo "nginx is not answering"; cat "$tmp/nginx/stderr.log"; exit 1; }

# Prints "<req/s> <bytes/s> <p99 ms>" for one wrk run.
run() {
  local out
  out=$(wrk -t2 -c"$2" -d"${DUR}s" --latency "$1")
  echo "$out" >>"$tmp/wrk.log"
  python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", t)
mult = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]
m99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", t)
p99 = float(m99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m99.group(2)]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
print(f"{rps:.0f} {float(m.group(1)) * mult:.0f} {p99:.2f} {errs.group(1) if errs else 0}")
PY
}

# Each scenario runs ROUNDS times per server, alternating which goes first
# (s,n / n,s …) so drift in the machine's load hits both alike; the figures
# are means over the rounds.
ROUNDS=${ROUNDS:-2}
measure() { # url-path conns -> "s_rps s_bytes s_p99 n_rps n_bytes n_p99" (means)
  local v out="$tmp/measure.txt"
  : >"$out"
  for r in $(seq "$ROUNDS"); do
    order="S N"; [ $((r % 2)) -eq 0 ] && order="N S"
    for who in $order; do
      if [ "$who" = S ]; then host=$S; else host=$N; fi
      read -r -a v < <(run "http://$host$1" "$2")
      [ "${v[3]}" = 0 ] || echo "warning: $who answered ${v[3]} non-2xx responses" >&2
      echo "$who ${v[*]}" >>"$out"
    done
  done
  python3 - "$out" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def mean(who, i):
    xs = [float(r[i]) for r in rows if r[0] == who]
    return sum(xs) / len(xs)
print(*(f"{mean(w, i):.2f}" for w in "SN" for i in (1, 2, 3)))
PY
}

printf '%s\n' "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2, ${DUR}s per run, mean of $ROUNDS runs each"
printf '%-34s %16s %16s %7s\n' "scenario" "sockit" "nginx" "ratio"
row() { # name, sockit value, nginx value, unit
  python3 -c "import sys; n,s,g,u=sys.argv[1:]; s=float(s); g=float(g); print(f'{n:<34} {s:>12,.0f} {u:<3} {g:>12,.0f} {u:<3} {s/g:6.2f}x')" "$@"
}
read -r s1 _ _ n1 _ _ < <(measure /1k.bin 64)
row "1 KiB, 64 conns (req/s)" "$s1" "$n1" "r/s"
read -r _ s2 _ _ n2 _ < <(measure /100m.bin 4)
row "100 MiB, 4 conns (MiB/s)" "$(python3 -c "print($s2 / 1048576)")" "$(python3 -c "print($n2 / 1048576)")" "M/s"
read -r s3 _ s3p n3 _ n3p < <(measure /1k.bin 1000)
row "1 KiB, 1000 conns (req/s)" "$s3" "$n3" "r/s"
printf '%-34s %12.2f ms  %12.2f ms\n' "1 KiB, 1000 conns p99 latency" "$s3p" "$n3p"
