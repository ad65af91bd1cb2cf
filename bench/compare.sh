#!/usr/bin/env bash
# compare.sh: one optimisation's before/after in the same run. Builds the release gateway at
# two commits (git worktrees under /tmp), starts both against one redis-server, and
# measures them alternately (A, B, B, A, ...) with wrk on the same body.
#   bench/compare.sh [ROUNDS] COMMIT_A COMMIT_B
#   env: BODY=dup-1|fixture-2|storm-50|storm-new-50 (default dup-1)  CONNS="64 1000"  DURATION=5s
#        STATE=redis|memory (default redis: both gateways share one redis-server; memory: each
#        its own in-process store, and the Redis CPU column reads 0)
#   (storm-new-50 is a template: bench/unique.lua gives every webhook 50 new pods of one storm)
# Prints, per connection count: medians of req/s, p99, gateway and Redis CPU per request,
# and B ÷ A as the median of the per-round ratios. Raw outputs: bench/results/raw/<ts>-compare.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=3
[[ ${1:-} =~ ^[0-9]+$ ]] && { ROUNDS=$1; shift; }
[ $# -eq 2 ] || { echo "usage: bench/compare.sh [ROUNDS] COMMIT_A COMMIT_B" >&2; exit 2; }
A=$(git -C "$ROOT" rev-parse --short "$1")
B=$(git -C "$ROOT" rev-parse --short "$2")
BODY=${BODY:-dup-1}
CONNS=${CONNS:-64 1000}
DURATION=${DURATION:-5s}
STATE=${STATE:-redis}
SKIP_BUILD=1 GW_SOURCE_BIN=none bench_init compare
echo "commits: A=$A B=$B state=$STATE body=$BODY rounds=$ROUNDS conns=$CONNS duration=$DURATION" | tee -a "$RAW/machine.txt"
B_DIR=$WORK/bodies
$PY "$BENCH/tools.py" bodies "$B_DIR" "$FIXTURES" >/dev/null

declare -A BIN PORT PIDOF
for c in "$A" "$B"; do
    wt=$WORK/src-$c
    git -C "$ROOT" worktree add -q --detach "$wt" "$c"
    make -s -C "$wt" build/signal-gateway >"$RAW/build-$c.log" 2>&1 || { tail "$RAW/build-$c.log"; exit 1; }
    BIN[$c]=$WORK/signal-gateway-$c
    cp "$wt/build/signal-gateway" "${BIN[$c]}"
    git -C "$ROOT" worktree remove --force "$wt"
    echo "gateway $c: $("${BIN[$c]}" --version 2>&1 | head -1), binary sha256 $(sha256sum "${BIN[$c]}" | cut -c1-12)" >>"$RAW/machine.txt"
done

if [ "$STATE" = redis ]; then
    start_redis
    STATE_ARG=redis://127.0.0.1:$REDIS_PORT
else
    STATE_ARG=memory
fi
redis_ticks() { if [ "$STATE" = redis ]; then cpu_ticks "$REDIS_PID"; else echo 0; fi; }
for c in "$A" "$B"; do
    mkdir -p "$WORK/rr-$c"
    GW_BIN=${BIN[$c]} GW_LOG=$RAW/gateway-$c.log start_gateway "$c" --state "$STATE_ARG" \
        --sink "dir:$WORK/rr-$c" --log-level warn
    PORT[$c]=$GW_PORT
    PIDOF[$c]=$GW_PID
    url=http://127.0.0.1:$GW_PORT$GW_PATH
    warm=$B_DIR/$BODY.json
    if [ -f "$B_DIR/$BODY.tmpl" ]; then
        warm=$WORK/warm-$c.json
        sed "s/__POD__/warm-$c/g" "$B_DIR/$BODY.tmpl" >"$warm"
    fi
    first=$(post "$url" "$warm")
    sleep 0.3
    second=$(post "$url" "$warm")
    echo "warm-up $c: $first then $second" | tee -a "$RAW/checks.txt"
done

TSV=$RAW/measure.tsv
echo -e "round\tcommit\tconns\trps\tp99_ms\trequests\tnon2xx\tsock_errors\tserver_ticks\tredis_ticks" >"$TSV"
for r in $(seq 1 "$ROUNDS"); do
    order=("$A" "$B")
    [ $((r % 2)) -eq 0 ] && order=("$B" "$A")
    for conns in $CONNS; do
        for c in "${order[@]}"; do
            GW_PORT=${PORT[$c]} gateway_idle
            out=$RAW/wrk-r$r-$c-c$conns.txt
            st0=$(cpu_ticks "${PIDOF[$c]}") rt0=$(redis_ticks)
            if [ -f "$B_DIR/$BODY.tmpl" ]; then
                RUN_ID=r$r-$c-c$conns run_wrk "$out" "$conns" "http://127.0.0.1:${PORT[$c]}$GW_PATH" "$B_DIR/$BODY.tmpl" \
                    "$BENCH/unique.lua"
            else
                run_wrk "$out" "$conns" "http://127.0.0.1:${PORT[$c]}$GW_PATH" "$B_DIR/$BODY.json"
            fi
            st1=$(cpu_ticks "${PIDOF[$c]}") rt1=$(redis_ticks)
            read -r rps p99 reqs bad errs < <($PY "$BENCH/tools.py" wrk "$out")
            echo -e "$r\t$c\t$conns\t$rps\t$p99\t$reqs\t$bad\t$errs\t$((st1 - st0))\t$((rt1 - rt0))" >>"$TSV"
            printf 'round %s c=%-4s %s %9.0f req/s  p99 %7.2f ms  non-2xx %s\n' "$r" "$conns" "$c" "$rps" "$p99" "$bad"
        done
    done
done
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
bench_cleanup
{
echo "# bench/compare.sh: A = $A, B = $B, state $STATE, body $BODY, $ROUNDS rounds of $DURATION, wrk -t1"
echo
sed 's/^/    /' "$RAW/machine.txt"
$PY - "$TSV" "$A" "$B" "$(getconf CLK_TCK)" <<'PY'

import statistics as st, sys
tsv, a, b, tck = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [l.rstrip("\n").split("\t") for l in open(tsv)][1:]
m = {}
for r, c, conns, rps, p99, reqs, bad, errs, gt, rt in rows:
    req = max(int(reqs), 1)
    m.setdefault((int(conns), c), {})[int(r)] = dict(rps=float(rps), p99=float(p99), bad=int(bad),
        gw=int(gt) / tck / req * 1e6, redis=int(rt) / tck / req * 1e6)
for conns in sorted({k[0] for k in m}):
    print(f"\n### {conns} connections (A = {a}, B = {b})\n")
    print("| | req/s | p99 ms | gateway CPU µs/req | Redis CPU µs/req | non-2xx |")
    print("|---|---|---|---|---|---|")
    for c in (a, b):
        v = m[(conns, c)].values()
        print(f"| {c} | {st.median(x['rps'] for x in v):,.0f} | {st.median(x['p99'] for x in v):.2f} | "
              f"{st.median(x['gw'] for x in v):.1f} | {st.median(x['redis'] for x in v):.1f} | {sum(x['bad'] for x in v)} |")
    ra = [m[(conns, b)][r]['rps'] / m[(conns, a)][r]['rps'] for r in m[(conns, a)] if r in m[(conns, b)]]
    print(f"\nB ÷ A req/s, median of per-round ratios: **{st.median(ra):.2f}** ({', '.join(f'{x:.2f}' for x in ra)})")
PY
} | tee "$RAW/summary.md"
cp "$RAW/summary.md" "$BENCH/results/compare-${RAW##*/}.md"
echo "raw outputs: $RAW"
