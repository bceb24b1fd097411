#!/usr/bin/env bash
# File transfer throughput over loopback: sockit send/receive (BLAKE3
# verification on, receiver writing to disk) vs `socat -u -b 262144` and
# `nc`, on the same random file in the same run, page cache warm.
#
#   bench/transfer.sh [SIZE_MIB] [RUNS]      (defaults: 2048 MiB, 3 runs each)
#
# Prints MB/s (10^6 bytes) per tool (best of RUNS), the ratios, and the peak
# RSS of both sockit sides. Temp files live under ${TMPDIR:-/tmp} and are
# removed at exit. Bounded: every transfer is killed after 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${1:-2048}
RUNS=${2:-3}
LIMIT=120

cargo build --release -q
BIN=$PWD/target/release/sockit
for t in socat nc /usr/bin/time; do
    command -v "$t" >/dev/null || { echo "missing $t (apt-get install socat netcat-openbsd time)"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sockit-bench-transfer.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src.bin
echo "making a ${SIZE_MIB} MiB random file in $WORK …"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$SRC"
BYTES=$(stat -c %s "$SRC")
cat "$SRC" >/dev/null # warm the page cache

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
mbps() { python3 -c "print(f'{$BYTES / ($2 - $1) / 1e6:.0f}')"; }

# Each run: start the receiver, time the sender from start to the receiver's exit.
run_socat() {
    local p; p=$(port)
    timeout $LIMIT socat -u -b 262144 TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr OPEN:"$WORK/out.bin",creat,trunc &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    timeout $LIMIT socat -u -b 262144 FILE:"$SRC" TCP:127.0.0.1:$p
    wait $rx
    mbps "$t0" "$(now)"
}

run_nc() {
    local p; p=$(port)
    timeout $LIMIT nc -l 127.0.0.1 $p >"$WORK/out.bin" &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    timeout $LIMIT nc -N 127.0.0.1 $p <"$SRC"
    wait $rx
    mbps "$t0" "$(now)"
}

run_sockit() {
    mkdir -p "$WORK/out"
    /usr/bin/time -f %M -o "$WORK/rx.rss" timeout $LIMIT "$BIN" -q receive --out "$WORK/out" --overwrite \
        --listen 127.0.0.1:0 2>"$WORK/rx.err" &
    local rx=$!
    local addr=""
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on tcp:\/\///p' "$WORK/rx.err")
        [ -n "$addr" ] && break
        sleep 0.05
    done
    local t0; t0=$(now)
    /usr/bin/time -f %M -o "$WORK/tx.rss" timeout $LIMIT "$BIN" -q send "$SRC" --to "$addr" ${SOCKIT_ARGS:-}
    wait $rx
    local t1; t1=$(now)
    cmp -s "$SRC" "$WORK/out/src.bin" || { echo "sockit output differs!" >&2; exit 1; }
    rm -rf "$WORK/out"
    mbps "$t0" "$t1"
}

best() { sort -n | tail -1; }
declare -A R
for tool in socat nc sockit; do
    vals=()
    for _ in $(seq "$RUNS"); do
        rm -f "$WORK/out.bin"
        sync
        vals+=("$(run_$tool)")
    done
    R[$tool]=$(printf '%s\n' "${vals[@]}" | best)
    echo "$tool: ${vals[*]} MB/s (best ${R[$tool]})"
done

echo
echo "file: $SIZE_MIB MiB random, loopback, page cache warm, receiver writing to $WORK ($(nproc) cores)"
printf 'socat -u -b 262144 : %6s MB/s\n' "${R[socat]}"
printf 'nc                  : %6s MB/s\n' "${R[nc]}"
printf 'sockit (BLAKE3 on)  : %6s MB/s\n' "${R[sockit]}"
python3 -c "print(f'sockit / socat = {${R[sockit]}/${R[socat]}:.2f}x   sockit / nc = {${R[sockit]}/${R[nc]}:.2f}x')"
echo "sockit peak RSS: sender $(( $(cat "$WORK/tx.rss") / 1024 )) MiB, receiver $(( $(cat "$WORK/rx.rss") / 1024 )) MiB"
