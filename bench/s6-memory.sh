#!/usr/bin/env bash
# s6-memory.sh: scenario 6, the gateway's memory (VmRSS) in Redis mode:
#   idle (fresh), after one request, with 1,000 open idle connections, after one request on each of them
#   (kept open), after they close; then while FILL_TOTAL distinct fingerprints go through it in webhooks
#   of 1,000 alerts (adapters.max_alerts' default), sampled every 10,000. Storms are off
#   (SGW_STORM_ENABLED=false) so that every alert is a CREATE: decide, a manifest from the dir sink, commit.
#   The dir sink writes to a tmpfs directory that the client empties every 10 webhooks.
#   The state lives in Redis, so RSS must not grow with the number of fingerprints; Redis' used_memory
#   and key count are sampled beside it.
#   Then, on a second gateway (default config, storms on): VmRSS and VmHWM after 3 s of wrk -c1000 with each
#   body (dup-1, fixture-2, storm-50): the memory of 1,000 requests in flight at once.
#
#   bench/s6-memory.sh          env: FILL_TOTAL=1000000 IDLE_CONNS=1000
set -euo pipefail
source "$(dirname "$0")/lib.sh"

FILL_TOTAL=${FILL_TOTAL:-1000000}
IDLE_CONNS=${IDLE_CONNS:-1000}
bench_init memory
B=$WORK/bodies
SHM=$(mktemp -d /dev/shm/sgw-bench-rr-XXXXXX)
TMPDIRS+=("$SHM")
echo "fill: $FILL_TOTAL distinct fingerprints, 1,000 per webhook; idle connections: $IDLE_CONNS" >>"$RAW/machine.txt"

start_redis
GW_LOG=$WORK/gateway-memory.log # one info line per created RR: ~300 MB for 1,000,000, so not kept
GW_ENV="SGW_STORM_ENABLED=false" start_gateway memory --state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$SHM"
sleep 1
fresh=$(rss_kib "$GW_PID")
st=$(post "http://127.0.0.1:$GW_PORT$GW_PATH" "$B/dup-1.json")
sleep 0.5
one=$(rss_kib "$GW_PID")
echo "fresh=$fresh after_first_request($st)=$one" | tee "$RAW/rss-idle.txt"
timeout 300 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" idle "$GW_PORT" "$GW_PID" "$IDLE_CONNS" "$B/dup-1.json" |
    tee -a "$RAW/rss-idle.txt"

start_s=$(date +%s)
t0=$(cpu_ticks "$GW_PID") r0=$(cpu_ticks "$REDIS_PID")
timeout 7200 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" fill "$GW_PORT" "$GW_PID" "$FILL_TOTAL" 1000 "$SHM" \
    "$REDIS_PORT" "$RAW/rss-fill.txt" | tee "$RAW/fill.log"
t1=$(cpu_ticks "$GW_PID") r1=$(cpu_ticks "$REDIS_PID")
echo "fill: $(($(date +%s) - start_s)) s wall; gateway CPU $(((t1 - t0) * 10)) ms, Redis CPU $(((r1 - r0) * 10)) ms;" \
    "after: VmRSS $(rss_kib "$GW_PID") KiB, VmHWM $(hwm_kib "$GW_PID") KiB;" \
    "redis dbsize $(rcli DBSIZE), used_memory $(rcli INFO memory | tr -d '\r' | sed -n 's/^used_memory://p')" |
    tee "$RAW/fill-end.txt"
stop_pid "$GW_PID"
grep -v '"level":"info"' "$GW_LOG" | head -50 >"$RAW/gateway-warnings.log" || true

GW_LOG=$WORK/gateway-load.log
GW_ENV="" start_gateway load --state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$SHM/load"
echo "fresh $(rss_kib "$GW_PID") $(hwm_kib "$GW_PID")" >"$RAW/rss-load.txt"
for body in dup-1 fixture-2 storm-50; do
    post "http://127.0.0.1:$GW_PORT$GW_PATH" "$B/$body.json" >/dev/null
    sleep 0.3
    DURATION=3s run_wrk "$RAW/wrk-load-$body.txt" 1000 "http://127.0.0.1:$GW_PORT$GW_PATH" "$B/$body.json"
    sleep 1
    echo "$body $(rss_kib "$GW_PID") $(hwm_kib "$GW_PID") $($PY "$BENCH/tools.py" wrk "$RAW/wrk-load-$body.txt")" |
        tee -a "$RAW/rss-load.txt"
done
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
bench_cleanup

{
    cat "$RAW/machine.txt" | sed 's/$/  /'
    echo
    read -r _ fresh_kv one_kv < <(sed -n 1p "$RAW/rss-idle.txt" | sed 's/^/x /')
    eval "$(sed -n 2p "$RAW/rss-idle.txt" | sed "s/conns$IDLE_CONNS/conns/g")"
    echo "### Gateway VmRSS (KiB), Redis mode, --workers 1"
    echo
    echo "| fresh | after 1 request | $IDLE_CONNS idle connections | same, after one request each | after they closed |"
    echo "|---|---|---|---|---|"
    echo "| ${fresh_kv#*=} | ${one_kv#*=} | $conns | $conns_after_request | $after_close |"
    echo
    echo "### VmRSS while distinct fingerprints go through (webhooks of 1,000 new alerts; storms off)"
    echo
    echo "| fingerprints | gateway VmRSS KiB | Redis used_memory MiB | Redis keys | elapsed s |"
    echo "|---|---|---|---|---|"
    n=$(wc -l <"$RAW/rss-fill.txt")
    awk -v n="$n" '{ if (n <= 12 || NR == 1 || NR == 2 || NR % int(n / 10) == 1 || NR == n)
        printf "| %\047d | %\047d | %.1f | %\047d | %s |\n", $1, $2, $3 / 1048576, $4, $5 }' "$RAW/rss-fill.txt"
    echo
    cat "$RAW/fill-end.txt"
    echo
    echo "### VmRSS under load: 1,000 connections, wrk -c1000 for 3 s per body, in this order (second gateway, storms on)"
    echo
    echo "| after | VmRSS KiB | VmHWM KiB | req/s | p99 ms |"
    echo "|---|---|---|---|---|"
    awk '{ if ($1 == "fresh") printf "| start | %\047d | %\047d | | |\n", $2, $3;
           else printf "| %s | %\047d | %\047d | %\047d | %.1f |\n", $1, $2, $3, $4, $5 }' "$RAW/rss-load.txt"
} >"$RAW/summary.md"
cat "$RAW/summary.md"
cp "$RAW/summary.md" "$BENCH/results/memory-${RAW##*/}.md"
cp "$RAW/summary.md" "$BENCH/results/memory.md"
echo "raw outputs: $RAW"
