#!/usr/bin/env bash
# File transfer throughput over loopback: sockit send/receive (encrypted
# with a code, BLAKE3 verification on, receiver writing to disk) vs
# `socat -u -b 262144` plain and with `OPENSSL:` on both ends (TLS 1.3,
# AES-GCM: the encrypted peer to beat), `nc`, and `scp` over loopback to an
# openssh-server this script starts itself (a private port, a throwaway host
# key and user key in its temp folder, never the system's sshd), twice: with
# scp's default cipher (chacha20-poly1305@openssh.com: what `scp FILE HOST:`
# does, the target's peer) and with -c aes128-gcm@openssh.com (the fastest
# scp offers on a CPU with AES instructions), on the same random file in the
# same run, page cache warm.
#
#   bench/transfer.sh [SIZE_MIB] [ROUNDS]      (defaults: 2048 MiB, 10 measured runs per tool)
#
# Each tool runs in a block: one warm-up run that is not counted, then
# ROUNDS measured runs, each starting the same way: the previous output
# deleted, `sync`, the source file read again (so it is in the page cache
# whatever the kernel evicted meanwhile). The warm-up matters on a VM like
# ours: page-cache writes right after *another* program's big write was
# deleted can run several times slower (`dd bs=1M`: 1.6–3.3 s for 2 GiB
# after an `nc` run, 0.42 s after another `dd`), so every measured run
# follows a run of the same tool.
#
# Prints MB/s (10^6 bytes) per run, then per tool the best and the median,
# the ratios, the CPU seconds both sides used in the best run (user+sys; less
# sensitive than wall time to other load on the machine), and the peak RSS of
# both sockit sides. Temp files live under ${TMPDIR:-/tmp} and are removed at
# exit. Bounded: every transfer is killed after 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${1:-2048}
ROUNDS=${2:-10}
LIMIT=120

NEEDS="socat:socat nc:netcat-openbsd /usr/bin/time:time python3:python3 openssl:openssl /usr/sbin/sshd:openssh-server scp:openssh-client ssh-keygen:openssh-client"
# shellcheck source=lib/transfer-setup.sh
. bench/lib/transfer-setup.sh
now() { date +%s.%N; }
# "MB/s cpu-seconds" from start/end times and the two /usr/bin/time files.
result() {
    python3 - "$@" <<PY
import sys
t0, t1, a, b = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
cpu = sum(float(x) for f in (a, b) for x in open(f).read().split()[1:3])
print(f"{$BYTES / (t1 - t0) / 1e6:.0f} {cpu:.2f}")
PY
}
timed() { local out=$1; shift; /usr/bin/time -f '%e %U %S %M' -o "$out" "$@"; }

# Each run: start the receiver, time the sender from start to the receiver's exit.
run_socat() {
    local p; p=$(port)
    timed "$WORK/rx.t" timeout $LIMIT socat -u -b 262144 TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr \
        OPEN:"$WORK/out.bin",creat,trunc &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    timed "$WORK/tx.t" timeout $LIMIT socat -u -b 262144 FILE:"$SRC" TCP:127.0.0.1:$p
    wait $rx
    result "$t0" "$(now)" "$WORK/tx.t" "$WORK/rx.t"
}

run_socat_tls() {
    local p; p=$(port)
    if [ ! -f "$WORK/tls.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
            -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null
        cat "$WORK/tls.key" "$WORK/tls.crt" >"$WORK/tls.pem"
    fi
    timed "$WORK/rx.t" timeout $LIMIT socat -u -b 262144 \
        OPENSSL-LISTEN:$p,bind=127.0.0.1,reuseaddr,cert="$WORK/tls.pem",verify=0 \
        OPEN:"$WORK/out.bin",creat,trunc &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    timed "$WORK/tx.t" timeout $LIMIT socat -u -b 262144 FILE:"$SRC" OPENSSL:127.0.0.1:$p,verify=0
    wait $rx
    result "$t0" "$(now)" "$WORK/tx.t" "$WORK/rx.t"
}

# A private sshd for scp: loopback only, a free port, keys made for this run,
# key login for this user only. Sets SSH_PORT and SSH_OPTS; killed at exit.
start_sshd() {
    local d=$WORK/ssh
    mkdir -p "$d" /run/sshd
    chmod 700 "$d"
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$d/user_key"
    cp "$d/user_key.pub" "$d/authorized_keys"
    SSH_PORT=$(port)
    cat >"$d/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $d/host_key
AuthorizedKeysFile $d/authorized_keys
PidFile $d/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers $(id -un)
Subsystem sftp internal-sftp
CONF
    /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
    SSHD_PID=$!
    SSH_OPTS=(-P "$SSH_PORT" -i "$d/user_key" -o BatchMode=yes -o IdentitiesOnly=yes
        -o StrictHostKeyChecking=no -o UserKnownHostsFile="$d/known_hosts")
    for _ in $(seq 50); do
        echo x >"$d/probe"
        if scp -q "${SSH_OPTS[@]}" "$d/probe" 127.0.0.1:"$d/probe.out" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "sshd did not come up:" >&2; cat "$d/sshd.log" >&2; return 1
}

run_scp() {
    local t0; t0=$(now)
    timed "$WORK/tx.t" timeout $LIMIT scp -q "${SSH_OPTS[@]}" ${SCP_CIPHER:+-c "$SCP_CIPHER"} "$SRC" 127.0.0.1:"$WORK/out.bin"
    # The server side is sshd's session process, not a child of ours to
    # time: CPU counts the client only.
    echo "0 0 0 0" >"$WORK/none.t"
    result "$t0" "$(now)" "$WORK/tx.t" "$WORK/none.t"
    cmp -s "$SRC" "$WORK/out.bin" || { echo "scp output differs!" >&2; exit 1; }
}

run_scp_aes() { SCP_CIPHER=aes128-gcm@openssh.com run_scp; }

run_nc() {
    local p; p=$(port)
    timed "$WORK/rx.t" timeout $LIMIT nc -l 127.0.0.1 $p >"$WORK/out.bin" &
    local rx=$!
    sleep 0.3
    local t0; t0=$(now)
    timed "$WORK/tx.t" timeout $LIMIT nc -N 127.0.0.1 $p <"$SRC"
    wait $rx
    result "$t0" "$(now)" "$WORK/tx.t" "$WORK/rx.t"
}

run_sockit() {
    mkdir -p "$WORK/out"
    # Remove the last run's log first: the background redirection may truncate
    # it only after the loop below has read the old `listening on` line.
    rm -f "$WORK/rx.err"
    timed "$WORK/rx.t" timeout $LIMIT "$BIN" -q receive --out "$WORK/out" --overwrite \
        --listen 127.0.0.1:0 --code bench-code-words 2>"$WORK/rx.err" &
    local rx=$!
    local addr=""
    for _ in $(seq 100); do
        addr=$(sed -n 's/^listening on tcp:\/\///p' "$WORK/rx.err")
        [ -n "$addr" ] && break
        sleep 0.05
    done
    local t0; t0=$(now)
    timed "$WORK/tx.t" timeout $LIMIT "$BIN" -q send "$SRC" --to "$addr" --code bench-code-words ${SOCKIT_ARGS:-}
    wait $rx
    local t1; t1=$(now)
    cmp -s "$SRC" "$WORK/out/src.bin" || { echo "sockit output differs!" >&2; exit 1; }
    rm -rf "$WORK/out"
    cp "$WORK/tx.t" "$WORK/tx.rss"
    cp "$WORK/rx.t" "$WORK/rx.rss"
    result "$t0" "$t1" "$WORK/tx.t" "$WORK/rx.t"
}

TOOLS=(socat socat_tls nc sockit scp scp_aes)
start_sshd
trap 'kill "$SSHD_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
declare -A BEST MED CPU RUNS
for tool in "${TOOLS[@]}"; do
    for round in $(seq 0 "$ROUNDS"); do
        rm -rf "$WORK/out.bin" "$WORK/out"
        sync
        cat "$SRC" >/dev/null
        read -r mb cpu <<<"$(run_$tool)"
        [ "$round" -gt 0 ] && RUNS[$tool]+="$mb:$cpu "
    done
done
for tool in "${TOOLS[@]}"; do
    read -r BEST[$tool] MED[$tool] CPU[$tool] <<<"$(python3 -c '
import statistics, sys
runs = [r.split(":") for r in sys.argv[1].split()]
best = max(runs, key=lambda r: int(r[0]))
print(best[0], int(statistics.median(int(r[0]) for r in runs)), best[1])' "${RUNS[$tool]}")"
    echo "$tool: ${RUNS[$tool]}(MB/s:cpu-s per run)"
done

echo
echo "file: $SIZE_MIB MiB random, loopback, page cache warm, receiver writing to $WORK ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
for tool in "${TOOLS[@]}"; do
    printf '%-20s: best %5s MB/s (cpu %ss both sides), median %5s MB/s\n' \
        "$(case $tool in socat) echo 'socat -u -b 262144' ;; socat_tls) echo 'socat OPENSSL: (TLS)' ;; sockit) echo 'sockit (sealed+BLAKE3)' ;; scp) echo 'scp (default cipher)' ;; scp_aes) echo 'scp -c aes128-gcm' ;; *) echo "$tool" ;; esac)" \
        "${BEST[$tool]}" "${CPU[$tool]}" "${MED[$tool]}"
done
python3 -c "print(f'sockit / socat = {${BEST[sockit]}/${BEST[socat]}:.2f}x best, {${MED[sockit]}/${MED[socat]}:.2f}x median   sockit / nc = {${BEST[sockit]}/${BEST[nc]}:.2f}x best, {${MED[sockit]}/${MED[nc]}:.2f}x median')"
python3 -c "print(f'sockit / socat OPENSSL = {${BEST[sockit]}/${BEST[socat_tls]}:.2f}x best, {${MED[sockit]}/${MED[socat_tls]}:.2f}x median (target >= 1.0x)')"
python3 -c "print(f'sockit / scp = {${BEST[sockit]}/${BEST[scp]}:.2f}x best, {${MED[sockit]}/${MED[scp]}:.2f}x median (target >= 2.0x)   sockit / scp -c aes128-gcm = {${BEST[sockit]}/${BEST[scp_aes]}:.2f}x best, {${MED[sockit]}/${MED[scp_aes]}:.2f}x median')"
echo "sockit peak RSS: sender $(( $(cut -d' ' -f4 "$WORK/tx.rss") / 1024 )) MiB, receiver $(( $(cut -d' ' -f4 "$WORK/rx.rss") / 1024 )) MiB"
