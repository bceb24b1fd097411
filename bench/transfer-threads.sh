#!/usr/bin/env bash
# Where the CPU of a transfer goes, thread by thread: sockit send/receive
# (BLAKE3 on) and `socat -u -b 262144`, on the same random file over
# loopback, page cache warm, receiver writing to disk.
#
#   bench/transfer-threads.sh [SIZE_MIB] [ROUNDS]   (defaults: 2048 MiB, 5 runs per tool)
#
# A companion to bench/transfer.sh, which measures throughput. This one
# samples /proc/PID/task/*/stat of both sides every 20 ms and prints, for
# each tool's fastest run, the CPU seconds of every thread (user+sys) and of
# the busiest one. Why it matters: with as many cores as busy threads, a
# pipeline runs no faster than its busiest thread, while on our two cores the
# sum of all threads is the limit. The sampling itself costs some CPU on
# both tools alike, so the throughput printed here runs a little below
# bench/transfer.sh's; a thread's last 20 ms before it exits may go uncounted.
#
# Each tool runs in a block (one warm-up run, then ROUNDS runs), every run
# starting from a deleted output, `sync`, and a fresh read of the source.
# Bounded: every transfer is killed after 120 s.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${1:-2048}
ROUNDS=${2:-5}
LIMIT=120

NEEDS="socat:socat python3:python3"
# shellcheck source=lib/transfer-setup.sh
. bench/lib/transfer-setup.sh

# Samples the threads of the given PIDs until all have exited; prints one
# line per thread: side, user+sys CPU seconds, user, sys.
sample() {
    python3 - "$@" <<'PY'
import glob, os, sys, time
sides = dict(zip(sys.argv[1::2], sys.argv[2::2]))  # pid -> rx|tx
tick = os.sysconf("SC_CLK_TCK")
seen = {}
while any(os.path.exists(f"/proc/{p}") for p in sides):
    for pid, side in sides.items():
        for task in glob.glob(f"/proc/{pid}/task/*"):
            try:
                fields = open(task + "/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]), int(fields[12]))  # utime, stime in ticks
            key = (side, task)
            seen[key] = max(seen.get(key, (0, 0)), cpu)
    time.sleep(0.02)
for (side, _), (u, s) in seen.items():
    if u + s > 0:
        print(side, (u + s) / tick, u / tick, s / tick)
PY
}

# One run of `tool`: prints "MB/s" on the first line, then sample()'s lines.
run() {
    local tool=$1 p rx tx t0 t1
    p=$(port)
    if [ "$tool" = socat ]; then
        socat -u -b 262144 TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr \
            OPEN:"$WORK/out.bin",creat,trunc &
        rx=$!
        sleep 0.3
        t0=$(date +%s.%N)
        socat -u -b 262144 FILE:"$SRC" TCP:127.0.0.1:$p &
        tx=$!
    else
        mkdir -p "$WORK/out"
        "$BIN" -q receive --out "$WORK/out" --overwrite --listen 127.0.0.1:$p 2>/dev/null &
        rx=$!
        sleep 0.3
        t0=$(date +%s.%N)
        "$BIN" -q send "$SRC" --to 127.0.0.1:$p &
        tx=$!
    fi
    # Not under `timeout`, so that the PIDs are the tools' own; a watchdog
    # keeps the run bounded instead.
    (sleep $LIMIT; kill $rx $tx 2>/dev/null) &
    local watchdog=$!
    sample $rx rx $tx tx >"$WORK/threads" &
    local sampler=$!
    wait $tx
    wait $rx
    t1=$(date +%s.%N)
    kill $watchdog 2>/dev/null || true
    wait $sampler
    if [ "$tool" = sockit ]; then
        cmp -s "$SRC" "$WORK/out/src.bin" || { echo "sockit output differs!" >&2; exit 1; }
    else
        cmp -s "$SRC" "$WORK/out.bin" || { echo "socat output differs!" >&2; exit 1; }
    fi
    python3 -c "print(round($BYTES / ($t1 - $t0) / 1e6))"
    cat "$WORK/threads"
}

for tool in socat sockit; do
    best=0
    for round in $(seq 0 "$ROUNDS"); do
        rm -rf "$WORK/out.bin" "$WORK/out"
        sync
        cat "$SRC" >/dev/null
        run $tool >"$WORK/run"
        mb=$(head -1 "$WORK/run")
        [ "$round" -eq 0 ] && continue
        echo "$tool run $round: $mb MB/s"
        if [ "$mb" -gt "$best" ]; then best=$mb; cp "$WORK/run" "$WORK/best.$tool"; fi
    done
done

echo
echo "file: $SIZE_MIB MiB random, loopback, page cache warm ($(nproc) cores); each tool's fastest run:"
for tool in socat sockit; do
    python3 - "$tool" "$WORK/best.$tool" <<'PY'
import sys
tool, path = sys.argv[1], sys.argv[2]
lines = open(path).read().split("\n")
mb = lines[0]
threads = sorted(([l.split()[0]] + [float(x) for x in l.split()[1:]] for l in lines[1:] if l.strip()),
                 key=lambda t: -t[1])
if not threads:
    print(f"{tool:7}: {mb} MB/s, too short to sample (try a bigger file)")
    sys.exit(0)
total = sum(t[1] for t in threads)
busiest = threads[0]
print(f"{tool:7}: {mb} MB/s, {total:.2f} CPU-s in all, busiest thread {busiest[1]:.2f} CPU-s ({busiest[0]})")
print("         threads (side cpu = user + sys): " +
      ", ".join(f"{t[0]} {t[1]:.2f} = {t[2]:.2f} + {t[3]:.2f}" for t in threads))
PY
done
