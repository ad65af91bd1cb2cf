#!/usr/bin/env bash
# s4-latency.sh: the storm webhook's latency at a set offered load (and the duplicate's, for
# reference), next to the closed-loop saturation run of throughput.sh.
# wrk's default closed loop keeps CONNS requests always in flight, so at saturation its p99 is
# queueing: CONNS / throughput (Little's law; 64 / 5,000 per s = 12.8 ms on average before any
# work is done). Here the load is set instead, in one of two ways:
#   MODE=open (default; bench/openloop.lua): one Poisson stream of RATE requests/s over the
#     CONNS connections, each request's latency counted from the instant it was SCHEDULED, so
#     time spent waiting because every connection was busy is measured, not hidden (open
#     loop, corrected for coordinated omission, as wrk2 does). The latency columns are
#     openloop.lua's; "late" counts requests sent after their instant.
#   MODE=paced (bench/paced.lua, sessions 4-6): each connection waits an exponential think
#     time after every response. A slow response delays its connection's next request, so
#     the rate reached falls below RATE under load and queueing is under-counted: at the
#     same offered rate it reads lower than MODE=open (docs/benchmarks.md, session 7).
#
#   bench/s4-latency.sh [ROUNDS]     default 3 rounds
#   env: BODY=storm-50 (or dup-1, or storm-new-50: 50 new alerts of one storm in every webhook)
#        RATES="1000 2000 3000 4000"  CONNS=64  DURATION=10s  MODE=open|paced
#
# Each round measures every rate once, in order; results per rate are the medians over rounds.
# Layout as throughput.sh: gateway --workers 1 on CPU 0; wrk and redis-server on CPU 1.
# Writes bench/results/raw/<ts>-latency/ and bench/results/latency-<ts>.md + latency.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
BODY=${BODY:-storm-50}
RATES=${RATES:-1000 2000 3000 4000}
CONNS=${CONNS:-64}
DURATION=${DURATION:-10s}
MODE=${MODE:-open}
case $MODE in
    open) LUA=$BENCH/openloop.lua ;;
    paced) LUA=$BENCH/paced.lua ;;
    *) echo "latency: MODE must be open or paced" >&2; exit 2 ;;
esac
bench_init latency
B=$WORK/bodies
$PY "$BENCH/tools.py" bodies "$B" "$FIXTURES" >/dev/null
TSV=$RAW/measure.tsv
echo -e "round\tbody\trate\tconns\trps\tp50_ms\tp99_ms\tmax_ms\trequests\tnon2xx\tsock_errors\tserver_ticks\tredis_ticks\tlate" >"$TSV"
echo "rounds: $ROUNDS body: $BODY rates: $RATES conns: $CONNS duration: $DURATION mode: $MODE" >>"$RAW/machine.txt"

start_redis
GW_LOG=$WORK/gateway.log
start_gateway main --state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$WORK/rr"
GW=http://127.0.0.1:$GW_PORT$GW_PATH
BODY_PATH=$B/$BODY.json
warm=$BODY_PATH
if [ -f "$B/$BODY.tmpl" ]; then   # storm-new-50: every webhook brings new alerts (paced.lua)
    BODY_PATH=$B/$BODY.tmpl
    warm=$WORK/warm.json
    sed "s/__POD__/warm/g" "$BODY_PATH" >"$warm"
fi
first=$(post "$GW" "$warm")
sleep 0.3
second=$(post "$GW" "$warm")
echo "warm-up $BODY: $first then $second" | tee -a "$RAW/checks.txt"
[ "$second" = 202 ] || { echo "latency: $BODY did not become a duplicate" >&2; exit 1; }

for r in $(seq 1 "$ROUNDS"); do
    for rate in $RATES; do
        out=$RAW/wrk-r$r-$BODY-rate$rate.txt
        gateway_idle
        rt0=$(cpu_ticks "$REDIS_PID") st0=$(cpu_ticks "$GW_PID")
        CONNS=$CONNS RATE=$rate SEED=$r RUN_ID=r$r-$rate run_wrk "$out" "$CONNS" "$GW" "$BODY_PATH" "$LUA"
        rt1=$(cpu_ticks "$REDIS_PID") st1=$(cpu_ticks "$GW_PID")
        # wrk runs on without its script if the script fails: that would be the closed loop
        if grep -q "$(basename "$LUA")" "$out"; then echo "latency: $LUA failed:" >&2; head -3 "$out" >&2; exit 1; fi
        read -r rps p99 reqs bad errs < <($PY "$BENCH/tools.py" wrk "$out")
        late=""
        if [ "$MODE" = open ]; then
            # the latency from each request's scheduled instant (openloop.lua), not wrk's own
            read -r unmatched late < <(awk '$1 == "open-loop:" {print $9, $11}' "$out")
            [ "${unmatched:-x}" = 0 ] || { echo "latency: responses without the X-Request-ID echo: ${unmatched:-no open-loop line}" >&2; exit 1; }
            read -r p50 p99 mx < <(awk '$1 == "open-loop" && $2 == "latency" {printf "%.3f %.3f %.3f\n", $5 / 1000, $9 / 1000, $13 / 1000}' "$out")
        else
            p50=$($PY "$BENCH/tools.py" ms "$(awk '$1 == "50%" {print $2}' "$out")")
            mx=$($PY "$BENCH/tools.py" ms "$(awk '$1 == "Latency" && NF >= 4 {print $4; exit}' "$out")")
        fi
        echo -e "$r\t$BODY\t$rate\t$CONNS\t$rps\t$p50\t$p99\t$mx\t$reqs\t$bad\t$errs\t$((st1 - st0))\t$((rt1 - rt0))\t$late" >>"$TSV"
        printf 'round %s %-8s offered %5s/s: %7.0f req/s  p99 %7.2f ms  non-2xx %s errors %s\n' "$r" "$BODY" "$rate" "$rps" "$p99" "$bad" "$errs"
    done
done

[ -n "${NO_SUMMARY:-}" ] && exit 0   # compare-latency.sh: it summarises its runs together
$PY "$BENCH/summarize.py" latency "$RAW" | tee "$BENCH/results/latency-$(basename "$RAW" | cut -d- -f1).md" >"$BENCH/results/latency.md"
echo "summary: bench/results/latency.md"
