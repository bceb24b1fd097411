#!/usr/bin/env bash
# Two parts, in one run (PART=stream or PART=https runs one of them):
#
# 1. stream — TLS streaming throughput over loopback: `sockit connect --tls` into
# `sockit listen --tls` vs socat `OPENSSL:` into `OPENSSL-LISTEN:`, on the
# same certificate (ECDSA P-256, made here with openssl), the same bytes
# (SIZE_MIB of zeros from `head -c`, piped into the sender on both sides; the
# receiver writes to /dev/null), in the same run. Both negotiate TLS 1.3 with
# AES-256-GCM (printed per tool, from one short handshake).
#
#   bench/tls.sh [SIZE_MIB] [ROUNDS]      (defaults: 2048 MiB, 5 measured runs per tool)
#
# Each tool gets one warm-up run that is not counted, then ROUNDS runs,
# timed from the sender's start to the receiver's exit. Prints MB/s (10^6
# bytes) per run, the best and the median per tool, and the ratios
# sockit/socat (the target is at least 1.0x). Bounded: every run is killed
# after 120 s. Needs: openssl, socat, python3; builds sockit in release mode.
#
# 2. https — `sockit http --tls-cert` vs nginx (`listen ssl http2`), same
# certificate, same folder, same run, with wrk over https (HTTP/1.1; wrk
# offers no ALPN). Both speak TLS 1.2 and 1.3 and follow the client's cipher
# order, so wrk's OpenSSL gets TLS 1.3 with AES-256-GCM from both (printed
# per server, from one s_client handshake). nginx: worker_processes auto,
# access_log off, session cache and tickets at its defaults, no kTLS (so
# its sendfile does not apply under TLS: both encrypt in user space).
#   a. 1 KiB file, wrk -t2 -c64, keep-alive          (requests/s; target >= 1.0x)
#   b. 1 KiB file, wrk -t2 -c64, `Connection: close` (new TLS connection per
#      request: handshakes/s; target >= 1.0x)
#   c. 100 MiB file, wrk -t2 -c4                     (MiB/s; target >= 0.9x)
# DUR (seconds per wrk run, default 10) and HTTPS_ROUNDS (runs per server,
# alternating which goes first; default 2; the figures are means) tune it.
# Needs: wrk, nginx, curl.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

PART=${PART:-all}
SIZE_MIB=${1:-2048}
ROUNDS=${2:-5}
LIMIT=120
BYTES=$((SIZE_MIB * 1024 * 1024))

case $PART in
    stream) NEEDS="openssl socat python3" ;;
    https) NEEDS="openssl python3 wrk nginx curl" ;;
    all) NEEDS="openssl socat python3 wrk nginx curl" ;;
    *) echo "PART is stream, https or all" >&2; exit 2 ;;
esac
PATH=$PATH:/usr/sbin
for tool in $NEEDS; do
    command -v "$tool" >/dev/null || { echo "bench/tls.sh needs $tool (apt-get install $tool)" >&2; exit 1; }
done
# SOCKIT_BIN=path skips the build (to check the script itself quickly).
if [ -z "${SOCKIT_BIN:-}" ]; then
    cargo build --release -q -p sockit
fi
SOCKIT=${SOCKIT_BIN:-$PWD/target/release/sockit}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockit-tls-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

CERT=$WORK/cert.pem
KEY=$WORK/key.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$KEY" 2>/dev/null
openssl req -x509 -new -key "$KEY" -subj /CN=localhost -days 2 \
    -addext subjectAltName=DNS:localhost -addext basicConstraints=critical,CA:FALSE -out "$CERT" 2>/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
mbps() { python3 -c "import sys; print(f'{$BYTES / (float(sys.argv[2]) - float(sys.argv[1])) / 1e6:.0f}')" "$1" "$2"; }

run_sockit() {
    local p; p=$(port)
    # listen ends when the sender closes; its stdin is empty.
    timeout $LIMIT "$SOCKIT" -q listen --port "$p" --tls-cert "$CERT" --tls-key "$KEY" </dev/null >/dev/null 2>&1 &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    head -c "$BYTES" /dev/zero | timeout $LIMIT "$SOCKIT" -q connect --tls-ca "$CERT" "localhost:$p" >/dev/null
    wait $rx
    mbps "$t0" "$(now)"
}

run_socat() {
    local p; p=$(port)
    timeout $LIMIT socat -u OPENSSL-LISTEN:"$p",bind=127.0.0.1,reuseaddr,cert="$CERT",key="$KEY",verify=0 - >/dev/null &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    head -c "$BYTES" /dev/zero | timeout $LIMIT socat -u - OPENSSL:localhost:"$p",cafile="$CERT" >/dev/null
    wait $rx
    mbps "$t0" "$(now)"
}

# What each side negotiates: one openssl handshake against each server.
negotiated() {
    local p; p=$(port)
    case $1 in
        sockit) timeout 10 "$SOCKIT" -q listen --port "$p" --tls-cert "$CERT" --tls-key "$KEY" </dev/null >/dev/null & ;;
        socat) timeout 10 socat -u OPENSSL-LISTEN:"$p",bind=127.0.0.1,reuseaddr,cert="$CERT",key="$KEY",verify=0 - >/dev/null & ;;
    esac
    local pid=$!
    sleep 0.3
    echo | openssl s_client -connect 127.0.0.1:"$p" 2>/dev/null | grep -m1 -E '^New, ' || echo "(handshake failed)"
    kill $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
}

stream_part() {
declare -A RESULTS
for tool in sockit socat; do
    echo "== $tool: $(negotiated $tool)"
    echo "   warm-up: $(run_$tool) MB/s"
    runs=()
    for i in $(seq "$ROUNDS"); do
        r=$(run_$tool)
        runs+=("$r")
        echo "   run $i: $r MB/s"
    done
    RESULTS[$tool]="${runs[*]}"
done

python3 - "${RESULTS[sockit]}" "${RESULTS[socat]}" "$SIZE_MIB" <<'PY'
import statistics, sys
sockit = [float(x) for x in sys.argv[1].split()]
socat = [float(x) for x in sys.argv[2].split()]
print(f"\nTLS stream, {sys.argv[3]} MiB, {len(sockit)} runs each (MB/s):")
print(f"  sockit connect/listen --tls   best {max(sockit):6.0f}   median {statistics.median(sockit):6.0f}")
print(f"  socat OPENSSL:                best {max(socat):6.0f}   median {statistics.median(socat):6.0f}")
print(f"  ratio sockit/socat            best {max(sockit)/max(socat):6.2f}x  median {statistics.median(sockit)/statistics.median(socat):6.2f}x   (target: >= 1.0x)")
PY
}

# Prints "<req/s> <bytes/s> <non-2xx>" for one wrk run: URL CONNS [wrk args…].
wrk_run() {
    local url=$1 conns=$2 out
    shift 2
    out=$(timeout $((DUR + 30)) wrk -t2 -c"$conns" -d"${DUR}s" "$@" "$url")
    echo "$out" >>"$WORK/wrk.log"
    python3 - "$out" <<'PY'
import re, sys
t = sys.argv[1]
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
m = re.search(r"Transfer/sec:\s+([\d.]+)([KMGT]?B)", t)
mult = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
bad = (int(errs.group(1)) if errs else 0) + (int(sock.group(1)) + int(sock.group(4)) if sock else 0)
print(f"{rps:.0f} {float(m.group(1)) * mult:.0f} {bad}")
PY
}

https_part() {
    DUR=${DUR:-10}
    local rounds=${HTTPS_ROUNDS:-2}
    local site=$WORK/site pids=()
    chmod 755 "$WORK" # nginx workers may run as another user
    mkdir -p "$site" "$WORK/nginx/logs"
    head -c 1024 /dev/urandom >"$site/1k.bin"
    head -c $((100 << 20)) /dev/urandom >"$site/100m.bin"
    chmod 644 "$site"/*
    ulimit -n 65536 2>/dev/null || true

    "$SOCKIT" -q http "$site" --port 0 --tls-cert "$CERT" --tls-key "$KEY" 2>"$WORK/sockit-http.log" &
    pids+=($!)
    for _ in $(seq 100); do grep -q 'listening on' "$WORK/sockit-http.log" && break; sleep 0.05; done
    local S; S=$(sed -n 's|^listening on https://||p' "$WORK/sockit-http.log" | head -1)
    [ -n "$S" ] || { cat "$WORK/sockit-http.log"; exit 1; }

    local NP; NP=$(port)
    cat >"$WORK/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NP ssl http2;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    root $site;
  }
}
CONF
    nginx -c "$WORK/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/stderr.log" &
    pids+=($!)
    # shellcheck disable=SC2064 # the pids are known now
    trap "kill ${pids[*]} 2>/dev/null || true; rm -rf '$WORK'" EXIT
    local N=127.0.0.1:$NP
    for who in "$S" "$N"; do
        for _ in $(seq 100); do curl -sf -o /dev/null --cacert "$CERT" --resolve "localhost:${who##*:}:127.0.0.1" "https://localhost:${who##*:}/1k.bin" && break; sleep 0.05; done
        curl -sf -o /dev/null --cacert "$CERT" --resolve "localhost:${who##*:}:127.0.0.1" "https://localhost:${who##*:}/1k.bin" \
            || { echo "https://$who is not answering"; cat "$WORK/sockit-http.log" "$WORK/nginx/stderr.log"; exit 1; }
    done
    for who in sockit:$S nginx:$N; do
        echo "== https ${who%%:*}: $(echo | openssl s_client -connect "${who#*:}" 2>/dev/null | grep -m1 -E '^New, ' || echo '(handshake failed)')"
    done

    # measure PATH CONNS [wrk args…] -> "s_rps s_bytes n_rps n_bytes" (means)
    measure() {
        local path=$1 conns=$2 v out="$WORK/measure.txt" order host
        shift 2
        : >"$out"
        for r in $(seq "$rounds"); do
            order="S N"; [ $((r % 2)) -eq 0 ] && order="N S"
            for who in $order; do
                if [ "$who" = S ]; then host=$S; else host=$N; fi
                read -r -a v < <(wrk_run "https://$host$path" "$conns" "$@")
                [ "${v[2]}" = 0 ] || echo "warning: $who had ${v[2]} errors or non-2xx responses" >&2
                echo "$who ${v[*]}" >>"$out"
            done
        done
        python3 - "$out" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
def mean(who, i):
    xs = [float(r[i]) for r in rows if r[0] == who]
    return sum(xs) / len(xs)
print(*(f"{mean(w, i):.2f}" for w in "SN" for i in (1, 2)))
PY
    }
    row() { # name, sockit value, nginx value, unit, target
        python3 -c "import sys; n,s,g,u,t=sys.argv[1:]; s=float(s); g=float(g); print(f'{n:<40} {s:>12,.0f} {u:<3} {g:>12,.0f} {u:<3} {s/g:6.2f}x  (target >= {t}x)')" "$@"
    }
    echo
    echo "HTTPS, machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk -t2, ${DUR}s per run, mean of $rounds runs each"
    printf '%-40s %16s %16s %7s\n' "scenario" "sockit" "nginx" "ratio"
    local s1 n1 s2 n2 s3 n3
    read -r s1 _ n1 _ < <(measure /1k.bin 64)
    row "1 KiB, 64 conns, keep-alive (req/s)" "$s1" "$n1" "r/s" 1.0
    read -r s2 _ n2 _ < <(measure /1k.bin 64 -H "Connection: close")
    row "1 KiB, Connection: close (handshakes/s)" "$s2" "$n2" "h/s" 1.0
    read -r _ s3 _ n3 < <(measure /100m.bin 4)
    row "100 MiB, 4 conns (MiB/s)" "$(python3 -c "print($s3 / 1048576)")" "$(python3 -c "print($n3 / 1048576)")" "M/s" 0.9
}

case $PART in
    stream) stream_part ;;
    https) https_part ;;
    all) stream_part; https_part ;;
esac
