#!/usr/bin/env bash
# audit-overhead.sh: the audit trail's cost on the duplicate path (issue 20: "audit on vs off: within 5 %").
# Three gateways in one run, each on CPU 0 with one worker, the same Redis, the same alert every time
# (after the first request every one is a duplicate = one decide call, as s3-duplicate.sh's "dup"):
#   off  no audit trail
#   on   --audit-log FILE (a regular file in the run's temp directory; the writer thread shares CPU 0)
#   req  the same with audit.required: true (each 202 waits for its line's write(2))
# Measured interleaved, the order rotating each round, wrk -t1 keep-alive on CPU 1; the audit files are
# emptied before each measurement (a 5 s run writes ~150 MB). The result is the ratio of on (and req) to
# off within each round, and the median of those ratios: of throughput, and of the gateway's CPU time per
# request (utime + stime of all its threads, from /proc/<pid>/stat). On a shared machine the CPU ratio is
# the steadier one: a gateway with a second busy thread (the writer) gets a larger share of a contended
# CPU, which can make "on" faster than "off" in req/s.
# Then instructions per request under callgrind, off and on (CG_N=0 skips it).
#   bench/audit-overhead.sh [ROUNDS]      default 5; env: DURATION=5s CONNS=64 CG_N=2000
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${1:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
bench_init audit
B=$WORK/bodies
TSV=$RAW/measure.tsv
echo -e "round\ttarget\tconns\trps\tp99_ms\trequests\tnon2xx\tsock_errors\tserver_ticks" >"$TSV"
echo "rounds: $ROUNDS duration: $DURATION conns: $CONNS" >>"$RAW/machine.txt"

start_redis
declare -A PID PORT
for t in off on req; do
    args=(--state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$WORK/rr-$t")
    env=""
    case $t in
    on) args+=(--audit-log "$WORK/audit-on.log") ;;
    req) args+=(--audit-log "$WORK/audit-req.log") env="SGW_AUDIT_REQUIRED=true" ;;
    esac
    GW_LOG=$WORK/gateway-$t.log GW_ENV=$env start_gateway "$t" "${args[@]}"
    PID[$t]=$GW_PID PORT[$t]=$GW_PORT
    first=$(post "http://127.0.0.1:$GW_PORT$GW_PATH" "$B/dup-1.json")
    second=$(post "http://127.0.0.1:$GW_PORT$GW_PATH" "$B/dup-1.json")
    echo "warm-up $t: $first then $second" | tee -a "$RAW/checks.txt"
    [ "$second" = 202 ] || { echo "audit-overhead: $t did not answer a duplicate" >&2; exit 1; }
done

measure() { # measure ROUND TARGET
    local r=$1 t=$2 out=$RAW/wrk-r$1-$2.txt st0 st1
    GW_PORT=${PORT[$t]} gateway_idle
    [ "$t" = off ] || : >"$WORK/audit-$t.log"
    st0=$(cpu_ticks "${PID[$t]}")
    run_wrk "$out" "$CONNS" "http://127.0.0.1:${PORT[$t]}$GW_PATH" "$B/dup-1.json"
    st1=$(cpu_ticks "${PID[$t]}")
    read -r rps p99 reqs bad errs < <($PY "$BENCH/tools.py" wrk "$out")
    echo -e "$r\t$t\t$CONNS\t$rps\t$p99\t$reqs\t$bad\t$errs\t$((st1 - st0))" >>"$TSV"
    printf 'round %s %-4s %9.0f req/s  p99 %7.2f ms  non-2xx %s  errors %s\n' "$r" "$t" "$rps" "$p99" "$bad" "$errs"
}

targets=(off on req)
for r in $(seq 1 "$ROUNDS"); do
    rot=$(((r - 1) % 3))
    for t in "${targets[@]:$rot}" "${targets[@]:0:$rot}"; do measure "$r" "$t"; done
done
# the last measurement of "on": its lines against wrk's count of answers (a request still unanswered
# when wrk stopped may have its line too)
lines=$(wc -l <"$WORK/audit-on.log")
echo "audit-on.log after its last run: $lines lines; wrk counted $(awk -v r="$ROUNDS" '$1 == r && $2 == "on" {print $6}' "$TSV") requests" |
    tee -a "$RAW/checks.txt"
for t in on req; do
    echo "$t: $(curl -s "http://127.0.0.1:${PORT[$t]}/metrics" | grep '^gateway_audit' | tr '\n' ' ')" | tee -a "$RAW/checks.txt"
done
for t in off on req; do stop_pid "${PID[$t]}"; done
stop_pid "$REDIS_PID"

# Instructions per request (valgrind --tool=callgrind, every thread of the process: the one number the
# shared machine cannot move), memory state: CG_N sequential keep-alive duplicates, after 200 to warm
# up, with the counters zeroed before and dumped after; the same time with no request is subtracted
# (the loop's timers). System calls are counted as their user-side instructions only: the kernel's
# share of the writer's writev(2) is not in it (the CPU-time ratio above has it).
CG_N=${CG_N:-2000}
if [ "$CG_N" -gt 0 ]; then
    need callgrind_control
    echo -e "target\tn\tir_n\tir_0\tper_request" >"$RAW/callgrind.tsv"
    dump1() { # dump1 NAME PID: the counters since the last zeroing to $RAW/cg-NAME.out
        local before
        before=$(find "$RAW" -name "cg.out.*" | wc -l)
        callgrind_control --dump="$1" "$2" >/dev/null
        for _ in $(seq 1 100); do [ "$(find "$RAW" -name "cg.out.*" | wc -l)" -gt "$before" ] && break; sleep 0.1; done
        mv "$(ls -t "$RAW"/cg.out.* | head -1)" "$RAW/cg-$1.out"
    }
    ir() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }
    for t in off on; do
        args=(--state memory --sink "dir:$WORK/cg-rr-$t")
        [ "$t" = on ] && args+=(--audit-log "$WORK/cg-audit.log")
        GW_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$RAW/cg.out")
        GW_LOG=$WORK/cg-gateway-$t.log start_gateway "cg-$t" "${args[@]}"
        post "http://127.0.0.1:$GW_PORT$GW_PATH" "$B/dup-1.json" >/dev/null
        timeout 600 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" seq "$GW_PORT" 200 "$B/dup-1.json" 202 >/dev/null
        callgrind_control -z "$GW_PID" >/dev/null
        s0=$(date +%s.%N)
        timeout 1200 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" seq "$GW_PORT" "$CG_N" "$B/dup-1.json" 202 >/dev/null
        el=$($PY -c "print($(date +%s.%N) - $s0)")
        sleep 0.1   # the writer's last batch (it lingers 10 ms)
        dump1 "$t-n" "$GW_PID"
        callgrind_control -z "$GW_PID" >/dev/null
        sleep "$el"
        dump1 "$t-0" "$GW_PID"
        a=$(ir "$RAW/cg-$t-n.out") z=$(ir "$RAW/cg-$t-0.out")
        echo -e "$t\t$CG_N\t$a\t$z\t$(((a - z) / CG_N))" >>"$RAW/callgrind.tsv"
        echo "callgrind $t: $(((a - z) / CG_N)) instructions per request"
        stop_pid "$GW_PID"
        GW_WRAP=()
    done
    [ -f "$WORK/cg-audit.log" ] && echo "callgrind on: $(wc -l <"$WORK/cg-audit.log") audit lines" | tee -a "$RAW/checks.txt"
fi
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
bench_cleanup
$PY - "$TSV" <<'PY' | tee "$RAW/summary.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["round"], {})[r["target"]] = r
print("| round | off req/s | on req/s | on/off | req req/s | req/off | off p99 ms | on p99 ms | req p99 ms | CPU ms/req off, on, req |")
print("|---|---|---|---|---|---|---|---|---|---|")
ratios = {"on": [], "req": []}
cpu_ratios = {"on": [], "req": []}
for k in sorted(by, key=int):
    d = by[k]
    rps = {t: float(d[t]["rps"]) for t in d}
    cpu = {t: 10.0 * int(d[t]["server_ticks"]) / max(1, int(d[t]["requests"])) for t in d}
    for t in ratios:
        ratios[t].append(rps[t] / rps["off"])
        cpu_ratios[t].append(cpu[t] / cpu["off"])
    print("| %s | %.0f | %.0f | %.3f | %.0f | %.3f | %s | %s | %s | %.4f, %.4f, %.4f |" % (
        k, rps["off"], rps["on"], rps["on"] / rps["off"], rps["req"], rps["req"] / rps["off"],
        d["off"]["p99_ms"], d["on"]["p99_ms"], d["req"]["p99_ms"], cpu["off"], cpu["on"], cpu["req"]))
print()
print("throughput, median on/off: **%.3f**; median req/off: **%.3f** (%d rounds)" % (
    statistics.median(ratios["on"]), statistics.median(ratios["req"]), len(by)))
print()
print("gateway CPU per request (all its threads, the writer's included), median on/off: **%.3f**; req/off: **%.3f**" % (
    statistics.median(cpu_ratios["on"]), statistics.median(cpu_ratios["req"])))
import os
cg = os.path.join(os.path.dirname(sys.argv[1]), "callgrind.tsv")
if os.path.exists(cg):
    ir = {r["target"]: int(r["per_request"]) for r in csv.DictReader(open(cg), delimiter="\t")}
    if "off" in ir and "on" in ir:
        print()
        print("instructions per request (callgrind, all threads, memory state): off %d, on %d: on/off **%.3f**" % (
            ir["off"], ir["on"], ir["on"] / ir["off"]))
PY
cp "$RAW/summary.md" "$BENCH/results/audit-overhead-${RAW##*/}.md"
echo "raw outputs: $RAW"
