#!/usr/bin/env bash
# throughput.sh: scenarios 1-4 and the issue-3 comparison, interleaved in one run so that every ratio
# compares numbers measured in the same round (the 2-core machine is shared and noisy).
#
#   bench/throughput.sh [ROUNDS]         default 3 rounds
#   env: DURATION=5s  CONNS="64 1000"  TARGETS="nginx am dup fixture storm stormnew rb"  RB_N=100000
#
# targets (all keep-alive, wrk -t1 on CPU 1; servers on CPU 0; redis-server on CPU 1 with the client):
#   nginx    nginx-light `return 200` + small JSON, same POST body as dup (the raw ceiling)
#   am       Alertmanager 0.25 POST /api/v2/alerts, one alert per request (the same alert every time)
#   dup      signal-gateway, Redis state, one alert per request, always the same: every request after the
#            first is a duplicate = one EVALSHA decide
#   fixture  signal-gateway, the 2-alert fixture pod-crashloop-firing-2-alerts.json (issue 3's benchmark)
#   storm    signal-gateway, the 50-alert fixture oom-storm-50-alerts.json, the same every time: after the first,
#            50 duplicates of the storm's alerts per webhook
#   stormnew signal-gateway, the same storm with 50 NEW pods in every webhook (bench/unique.lua on the template
#            storm-new-50.tmpl): every alert is folded into the storm's window (AGGREGATED), the storm path
#            proper; Redis keeps a record per alert (~280 B), so it grows by ~14 KB per webhook
#   rb       redis-benchmark -c 64 -P 1 with the gateway's own decide call for dup / fixture (FCALL of the
#            decide function, or EVALSHA where functions are refused), with the gateway's own ARGV,
#            captured with MONITOR; client on CPU 1 beside Redis ("rb1", "rb2", as wrk is) and on CPU 0
#            with Redis alone on CPU 1 ("rb1-sep", "rb2-sep"); and "rbmin1": bench/min-dup.lua, only the
#            Redis commands of a duplicate (GET, SET ... PXAT of the record string) with the same ARGV: the Lua floor
# CPU per request: the server's and Redis' from /proc/<pid>/stat before and after each wrk run, wrk's
# own (lib.sh run_wrk), and "both CPUs busy": the three together × req/s ÷ 2 CPUs (near 100 %: the
# machine, not one process, is the limit).
# Writes bench/results/raw/<ts>-throughput/ (measure.tsv, every wrk/redis-benchmark output) and
# bench/results/throughput-<ts>.md + bench/results/throughput.md (the summary).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64 1000}
TARGETS=${TARGETS:-nginx am dup fixture storm stormnew rb}
RB_N=${RB_N:-100000}
has() { [[ " $TARGETS " == *" $1 "* ]]; }

bench_init throughput
B=$WORK/bodies
TSV=$RAW/measure.tsv
echo -e "round\ttarget\tconns\trps\tp99_ms\trequests\tnon2xx\tsock_errors\tserver_ticks\tredis_ticks\tevalsha\tload_ticks" >"$TSV"
echo "rounds: $ROUNDS duration: $DURATION conns: $CONNS targets: $TARGETS" >>"$RAW/machine.txt"

start_redis
GW_TARGETS=""
for t in dup fixture storm stormnew rb; do has $t && GW_TARGETS="$GW_TARGETS $t"; done
if [ -n "$GW_TARGETS" ]; then
    GW_LOG=$WORK/gateway.log # one JSON line per request (info): large, so not kept in results
    start_gateway main --state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$WORK/rr"
    GW=http://127.0.0.1:$GW_PORT$GW_PATH
    # first requests create the RRs; the next ones must be duplicates / aggregated (202)
    for body in dup-1 fixture-2 storm-50; do
        first=$(post "$GW" "$B/$body.json")
        sleep 0.3
        second=$(post "$GW" "$B/$body.json")
        echo "warm-up $body: $first then $second" | tee -a "$RAW/checks.txt"
        [ "$second" = 202 ] || { echo "throughput: $body did not become a duplicate" >&2; exit 1; }
    done
    # what one duplicate request sends to Redis (for redis-benchmark), and EVALSHA calls per storm webhook
    $PY "$BENCH/tools.py" shas "$ROOT/src/state/scripts" >"$RAW/shas.txt"
    DECIDE_SHA=$(awk '$1 == "decide" {print $2}' "$RAW/shas.txt")
    MIN_SHA=$(rcli SCRIPT LOAD "$(cat "$BENCH/min-dup.lua")")
    for body in dup-1 fixture-2; do
        $PY "$BENCH/tools.py" monitor "$REDIS_PORT" 1.5 "$RAW/monitor-$body.txt" &
        mpid=$!
        sleep 0.5
        post "$GW" "$B/$body.json" >/dev/null
        wait "$mpid"
        $PY "$BENCH/tools.py" evalsha "$RAW/monitor-$body.txt" "$DECIDE_SHA" "$RAW/decide-args-$body.bin" |
            sed "s/^/decide ARGV of one $body request: /" | tee -a "$RAW/checks.txt"
    done
    $PY "$BENCH/tools.py" monitor "$REDIS_PORT" 4 "$RAW/monitor-storm.txt" &
    mpid=$!
    sleep 0.5
    e0=$(evalsha_calls)
    for _ in $(seq 1 20); do post "$GW" "$B/storm-50.json" >/dev/null; done
    e1=$(evalsha_calls)
    wait "$mpid"
    echo "storm: 20 sequential 50-alert webhooks: INFO commandstats evalsha + fcall +$((e1 - e0));" \
        "MONITOR by script: $($PY "$BENCH/tools.py" count "$RAW/monitor-storm.txt" "$ROOT/src/state/scripts")" \
        "(claim = the storm-flush timer, every 250 ms, not a request)" | tee -a "$RAW/checks.txt"
fi

if has nginx; then
    need nginx
    NGINX_PORT=$(free_port)
    nginx_conf on
    bg "$GW_CPU" "$RAW/nginx.log" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
    NGINX_PID=$LAST_PID
    wait_http "http://127.0.0.1:$NGINX_PORT/" "$NGINX_PID" || exit 1
fi

if has am; then
    need prometheus-alertmanager
    AM_PORT=$(free_port)
    mkdir -p "$WORK/am"
    printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' >"$WORK/am/am.yml"
    bg "$GW_CPU" "$RAW/alertmanager.log" prometheus-alertmanager --config.file="$WORK/am/am.yml" \
        --storage.path="$WORK/am" --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= \
        --log.level=warn
    AM_PID=$LAST_PID
    wait_http "http://127.0.0.1:$AM_PORT/-/ready" "$AM_PID" || exit 1
    st=$(post "http://127.0.0.1:$AM_PORT/api/v2/alerts" "$B/am-1.json")
    echo "alertmanager POST /api/v2/alerts: $st" | tee -a "$RAW/checks.txt"
    [ "$st" = 200 ] || exit 1
fi

measure() { # measure ROUND TARGET CONNS
    local r=$1 t=$2 c=$3 pid url body out e0 e1 rt0 rt1 st0 st1 lua=$BENCH/http-libs/post.lua
    case $t in
    nginx) pid=$NGINX_PID url=http://127.0.0.1:$NGINX_PORT$GW_PATH body=$B/dup-1.json ;;
    am) pid=$AM_PID url=http://127.0.0.1:$AM_PORT/api/v2/alerts body=$B/am-1.json ;;
    dup) pid=$GW_PID url=$GW body=$B/dup-1.json ;;
    fixture) pid=$GW_PID url=$GW body=$B/fixture-2.json ;;
    storm) pid=$GW_PID url=$GW body=$B/storm-50.json ;;
    stormnew) pid=$GW_PID url=$GW body=$B/storm-new-50.tmpl lua=$BENCH/unique.lua ;;
    esac
    out=$RAW/wrk-r$r-$t-c$c.txt
    [ "$pid" = "${GW_PID:-}" ] && gateway_idle
    e0=$(evalsha_calls) rt0=$(cpu_ticks "$REDIS_PID") st0=$(cpu_ticks "$pid")
    RUN_ID=r$r-c$c run_wrk "$out" "$c" "$url" "$body" "$lua"
    e1=$(evalsha_calls) rt1=$(cpu_ticks "$REDIS_PID") st1=$(cpu_ticks "$pid")
    read -r rps p99 reqs bad errs < <($PY "$BENCH/tools.py" wrk "$out")
    echo -e "$r\t$t\t$c\t$rps\t$p99\t$reqs\t$bad\t$errs\t$((st1 - st0))\t$((rt1 - rt0))\t$((e1 - e0))\t$(cat "$out.ticks")" >>"$TSV"
    printf 'round %s c=%-4s %-8s %9.0f req/s  p99 %7.2f ms  non-2xx %s  errors %s\n' "$r" "$c" "$t" "$rps" "$p99" \
        "$bad" "$errs"
}

measure_rb() { # measure_rb ROUND NAME ARGSFILE CPU [SHA]
    local r=$1 name=$2 argsf=$3 cpu=$4 args=() out rt0 rt1 e0 e1 now
    mapfile -d '' args <"$argsf"
    now=$(date +%s%3N)
    args[4]=$now
    [ -n "${5:-}" ] && args[0]=EVALSHA args[1]=$5   # another script with the same ARGV
    out=$RAW/rb-r$r-$name.csv
    e0=$(evalsha_calls) rt0=$(cpu_ticks "$REDIS_PID")
    timeout 120 taskset -c "$cpu" redis-benchmark -p "$REDIS_PORT" -n "$RB_N" -c 64 -P 1 --csv "${args[@]}" \
        >"$out" 2>&1 || true
    e1=$(evalsha_calls) rt1=$(cpu_ticks "$REDIS_PID")
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max"
    read -r rps p99 < <(tail -1 "$out" | awk -F'","' '{print $2, $7}')
    echo -e "$r\t$name\t64\t$rps\t$p99\t$RB_N\t0\t0\t0\t$((rt1 - rt0))\t$((e1 - e0))\t0" >>"$TSV"
    printf 'round %s c=64   %-8s %9.0f calls/s  p99 %7.2f ms\n' "$r" "$name" "$rps" "$p99"
}

WRK_TARGETS=()
for t in nginx am dup fixture storm stormnew; do has $t && WRK_TARGETS+=("$t"); done
echo "== $ROUNDS rounds x conns {$CONNS} x (${WRK_TARGETS[*]}${GW_TARGETS:+ + redis-benchmark}), $DURATION each"
for r in $(seq 1 "$ROUNDS"); do
    n=${#WRK_TARGETS[@]}
    rot=$(((r - 1) % (n > 0 ? n : 1)))
    order=("${WRK_TARGETS[@]:$rot}" "${WRK_TARGETS[@]:0:$rot}")
    for c in $CONNS; do
        for t in "${order[@]}"; do measure "$r" "$t" "$c"; done
    done
    if has rb; then
        measure_rb "$r" rb1 "$RAW/decide-args-dup-1.bin" "$LOAD_CPU"
        measure_rb "$r" rb2 "$RAW/decide-args-fixture-2.bin" "$LOAD_CPU"
        measure_rb "$r" rb1-sep "$RAW/decide-args-dup-1.bin" "$GW_CPU"
        measure_rb "$r" rb2-sep "$RAW/decide-args-fixture-2.bin" "$GW_CPU"
        measure_rb "$r" rbmin1 "$RAW/decide-args-dup-1.bin" "$LOAD_CPU" "$MIN_SHA"
    fi
done

if [ -n "${GW_PID:-}" ]; then
    echo "gateway after the run: VmRSS $(rss_kib "$GW_PID") KiB, VmHWM $(hwm_kib "$GW_PID") KiB" | tee -a "$RAW/checks.txt"
    grep -v '"level":"info"' "$GW_LOG" | head -50 >"$RAW/gateway-warnings.log" || true
fi
rcli INFO commandstats | tr -d '\r' >"$RAW/redis-commandstats.txt"
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
bench_cleanup
$PY "$BENCH/summarize.py" throughput "$RAW" | tee "$RAW/summary.md"
cp "$RAW/summary.md" "$BENCH/results/throughput-${RAW##*/}.md"
cp "$RAW/summary.md" "$BENCH/results/throughput.md"
echo "raw outputs: $RAW"
