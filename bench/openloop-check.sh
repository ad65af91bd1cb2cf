#!/usr/bin/env bash
# openloop-check.sh: checks that bench/openloop.lua counts the queue a stalled server builds,
# which bench/paced.lua (and wrk's own latency) leave out. The gateway (Redis state) gets
# repeated storm-50 webhooks at RATE/s for 6 s; 3 s in, it is stopped (SIGSTOP) for STALL_MS.
# Run once with each script. With openloop.lua every request scheduled during the stall is
# late and counted from its instant, so its p99 must reach most of the stall; the script fails
# if it does not (or if no request was late).
#   bench/openloop-check.sh            env: RATE=2000 STALL_MS=300
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RATE=${RATE:-2000}
STALL_MS=${STALL_MS:-300}
DURATION=6s
bench_init openloop-check
B=$WORK/bodies
start_redis
GW_LOG=$WORK/gateway.log
start_gateway main --state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$WORK/rr"
GW=http://127.0.0.1:$GW_PORT$GW_PATH
post "$GW" "$B/storm-50.json" >/dev/null
for lua in openloop paced; do
    out=$RAW/wrk-$lua.txt
    CONNS=64 RATE=$RATE run_wrk "$out" 64 "$GW" "$B/storm-50.json" "$BENCH/$lua.lua" &
    wp=$!
    sleep 3
    kill -STOP "$GW_PID"
    sleep "$(awk -v ms="$STALL_MS" 'BEGIN {print ms / 1000}')"
    kill -CONT "$GW_PID"
    wait "$wp"
    echo "$lua: wrk p90 $(awk '$1 == "90%" {print $2}' "$out"), p99 $(awk '$1 == "99%" {print $2}' "$out")"
    grep 'open-loop' "$out" || true
done
read -r late p99 < <(awk '$1 == "open-loop:" {l = $11} $1 == "open-loop" && $2 == "latency" {p = $9} END {print l, p}' "$RAW/wrk-openloop.txt")
echo "openloop.lua: $late requests late, p99 $((p99 / 1000)) ms for a stall of $STALL_MS ms"
[ "${late:-0}" -gt 0 ] && [ "$((p99 / 1000))" -ge "$((STALL_MS / 2))" ] || { echo "openloop-check: FAILED" >&2; exit 1; }
echo "openloop-check: ok"
