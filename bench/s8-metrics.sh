#!/usr/bin/env bash
# s8-metrics.sh: lock contention in the metrics path (issue 6: "lock contention"). The
# metrics updates of one duplicate request (bench/metrics/driver.c: 4 counters, 3
# histograms), made by 1 and by 2 threads at once (the machine has 2 CPUs; each thread is a
# worker), linked against src/metrics.c now and as it was at BEFORE (default 6614020: one
# global mutex), in the same run, alternating, ROUNDS times. Prints ns per request-worth of
# updates and the 2-thread throughput over the 1-thread throughput (2.0 = no contention).
#   bench/s8-metrics.sh [ROUNDS]      env: BEFORE=<commit> N=<updates per thread>
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
BEFORE=${BEFORE:-6614020}
N=${N:-2000000}
W=$(mktemp -d /tmp/sgw-bench-metrics.XXXXXX)
trap 'rm -rf "$W"' EXIT
git show "$BEFORE:src/metrics.c" >"$W/metrics-before.c"
CF="-std=gnu17 -O2 -D_GNU_SOURCE -iquote src"
LIBS="$(pkg-config --libs nettle) -lpthread"
for v in before now; do
    src=src/metrics.c
    [ $v = before ] && src=$W/metrics-before.c
    # shellcheck disable=SC2086
    cc $CF -o "$W/$v" bench/metrics/driver.c "$src" src/util/strmap.c src/util/xalloc.c src/util/hash.c $LIBS
done
echo "# $(date -u +%FT%TZ) $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), before=$BEFORE now=$(git rev-parse --short HEAD), N=$N per thread"
printf 'round\tversion\tthreads\tns_per_request\ttotals\n'
for r in $(seq 1 "$ROUNDS"); do
    for v in before now; do
        for t in 1 2; do
            printf '%s\t%s\t' "$r" "$v"
            "$W/$v" "$t" "$N"
        done
    done
done | tee "$W/out.tsv"
python3 - "$W/out.tsv" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]) if l[0].isdigit()]
d = {}
for r, v, t, ns, ok in rows:
    d.setdefault((v, int(t)), []).append(float(ns))
print()
print("| version | ns per request, 1 thread | ns per request, 2 threads (wall / all requests) | 2-thread throughput ÷ 1-thread |")
print("|---|---|---|---|")
for v in ("before", "now"):
    one, two = statistics.median(d[(v, 1)]), statistics.median(d[(v, 2)])
    print(f"| {v} | {one:.1f} | {two:.1f} | {one / two:.2f}× |")
PY
