#!/usr/bin/env bash
# TLS streaming throughput over loopback: `sockit connect --tls` into
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
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

SIZE_MIB=${1:-2048}
ROUNDS=${2:-5}
LIMIT=120
BYTES=$((SIZE_MIB * 1024 * 1024))

for tool in openssl socat python3; do
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
