#!/usr/bin/env bash
# s7-callgrind.sh: scenario 7, instructions per request (valgrind --tool=callgrind; the one number the
# shared machine cannot move). The gateway (--workers 1, Redis state, dir sink) runs under callgrind.
# For each body (dup-1: one duplicate alert; fixture-2: the 2-alert fixture, duplicates; storm-50: 50
# aggregated alerts): one request creates, 200 sequential keep-alive requests warm up, then
#   callgrind_control -z; N sequential keep-alive requests; callgrind_control -d    -> the "N" dump
#   callgrind_control -z; sleep as long as the N took;     callgrind_control -d    -> the "0" dump
# (the 0-request baseline: the loop's timers, e.g. the 250 ms storm-flush claim, over the same time).
# instructions per request = (Ir(N dump) - Ir(0 dump)) / N; the top functions come from the N dump.
# redis-server runs under callgrind too (REDIS_CG=0: normally), zeroed and dumped at the same moments:
# Redis instructions per request are the script's cost (EVALSHA decide: Lua VM + the commands it calls).
#
# Then nginx (the scenario-1 ceiling: `return 200`, master_process off, one process) under callgrind with
# the same method and the dup-1 body, for a noise-free instructions ratio. (Alertmanager, a Go program,
# crashes under valgrind 3.19, so it has no instruction count.)
#
#   bench/s7-callgrind.sh       env: CG_N=2000 (storm-50: CG_N/10) BODIES="dup-1 fixture-2 storm-50"
#                                    GATEWAY_CG=0 (skip the gateway and Redis) NGINX_CG=0 (skip nginx)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CG_N=${CG_N:-2000}
BODIES=${BODIES:-dup-1 fixture-2 storm-50}
need callgrind_annotate callgrind_control
bench_init callgrind
B=$WORK/bodies

TSV=$RAW/callgrind.tsv
echo -e "body\talerts\tn\tir_n\tir_0\tper_request\tper_alert\tredis_per_request" >"$TSV"
dump1() { # dump1 NAME PID PREFIX: write PID's counters since the last zeroing to $RAW/PREFIX-NAME.out
    local before
    before=$(find "$RAW" -name "$3.out.*" | wc -l)
    callgrind_control --dump="$1" "$2" >/dev/null
    for _ in $(seq 1 100); do [ "$(find "$RAW" -name "$3.out.*" | wc -l)" -gt "$before" ] && break; sleep 0.1; done
    mv "$(ls -t "$RAW/$3".out.* | head -1)" "$RAW/$3-$1.out"
}
ir() { awk '/^(summary|totals):/ {print $2; exit}' "$1"; }

if [ "${GATEWAY_CG:-1}" = 1 ]; then
[ "${REDIS_CG:-1}" = 1 ] && REDIS_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$RAW/rcg.out")
start_redis
GW_WRAP=(valgrind --tool=callgrind --callgrind-out-file="$RAW/cg.out")
start_gateway callgrind --state "redis://127.0.0.1:$REDIS_PORT" --sink "dir:$WORK/rr"
GW=http://127.0.0.1:$GW_PORT$GW_PATH
# the pid valgrind runs as is GW_PID's (env execs valgrind, valgrind runs the gateway in place)

zero() {
    callgrind_control -z "$GW_PID" >/dev/null
    [ ${#REDIS_WRAP[@]} = 0 ] || callgrind_control -z "$REDIS_PID" >/dev/null
}
dump() {
    dump1 "$1" "$GW_PID" cg
    [ ${#REDIS_WRAP[@]} = 0 ] || dump1 "$1" "$REDIS_PID" rcg
}
for body in $BODIES; do
    n=$CG_N
    [ "$body" = storm-50 ] && n=$((CG_N / 10))
    alerts=${body##*-}
    post "$GW" "$B/$body.json" >/dev/null
    sleep 0.5
    timeout 600 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" seq "$GW_PORT" 200 "$B/$body.json" 202 >/dev/null
    zero
    s0=$(date +%s.%N)
    timeout 1200 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" seq "$GW_PORT" "$n" "$B/$body.json" 202
    el=$($PY -c "print($(date +%s.%N) - $s0)")
    dump "$body-n$n"
    zero
    sleep "$el"
    dump "$body-0"
    a=$(ir "$RAW/cg-$body-n$n.out") z=$(ir "$RAW/cg-$body-0.out")
    per=$(((a - z) / n))
    rper=0
    if [ ${#REDIS_WRAP[@]} != 0 ]; then
        rper=$((($(ir "$RAW/rcg-$body-n$n.out") - $(ir "$RAW/rcg-$body-0.out")) / n))
        callgrind_annotate --threshold=100 "$RAW/rcg-$body-n$n.out" >"$RAW/redis-annotate-$body-self.txt" 2>/dev/null
        callgrind_annotate --inclusive=yes --threshold=100 "$RAW/rcg-$body-n$n.out" \
            >"$RAW/redis-annotate-$body-incl.txt" 2>/dev/null
        echo "           redis-server: $rper instructions per request"
    fi
    echo -e "$body\t$alerts\t$n\t$a\t$z\t$per\t$((per / alerts))\t$rper" >>"$TSV"
    printf '%-10s %6d requests: %12d Ir (baseline %d over %.1f s) => %d instructions per request, %d per alert\n' \
        "$body" "$n" "$a" "$z" "$el" "$per" "$((per / alerts))"
    callgrind_annotate --threshold=100 "$RAW/cg-$body-n$n.out" >"$RAW/annotate-$body-self.txt" 2>/dev/null
    callgrind_annotate --inclusive=yes --threshold=100 "$RAW/cg-$body-n$n.out" >"$RAW/annotate-$body-incl.txt" 2>/dev/null
done
if [ ${#REDIS_WRAP[@]} != 0 ]; then
    # Redis alone (gateway stopped, so no storm-flush claims run): instructions per EVALSHA of decide.lua
    # with one duplicate's ARGV, against bench/min-dup.lua (only its HGETALL + HSET + PEXPIREAT), same ARGV
    "$PY" "$BENCH/tools.py" monitor "$REDIS_PORT" 3 "$RAW/monitor-dup-1.txt" &
    mpid=$!
    sleep 1
    post "$GW" "$B/dup-1.json" >/dev/null # (a duplicate by now: the record is committed, state c)
    wait "$mpid"
    stop_pid "$GW_PID"
    "$PY" "$BENCH/tools.py" shas "$ROOT/src/state/scripts" >"$RAW/shas.txt"
    DECIDE_SHA=$(awk '$1 == "decide" {print $2}' "$RAW/shas.txt")
    MIN_SHA=$(rcli SCRIPT LOAD "$(cat "$BENCH/min-dup.lua")")
    "$PY" "$BENCH/tools.py" evalsha "$RAW/monitor-dup-1.txt" "$DECIDE_SHA" "$RAW/decide-args-dup-1.bin" >/dev/null
    mapfile -d '' args <"$RAW/decide-args-dup-1.bin"
    args[4]=$(date +%s%3N)
    RB_CG_N=${RB_CG_N:-1000}
    NOOP_SHA=$(rcli SCRIPT LOAD "return 1")
    rkey="sgw:d:bench-floor"    # the hash form of the dedup record (up to a7dce5a), for comparison
    rcli HSET "$rkey" s c ref production/rr-x n 1 f 1 l 1 x 1 lease 1 le 1 rf 0 >/dev/null
    skey="sgw:d2:bench-floor"   # the string form decide.lua uses now (docs/redis-keys.md)
    srec="c41024448000001764201600000|2|1764201600000|1|1764201610000|0|production/rr-0123456789abcdef"
    rcli SET "$skey" "$srec" >/dev/null
    dargs=("${args[@]}")
    margs=("${args[@]}")
    margs[0]=EVALSHA margs[1]=$MIN_SHA
    nargs=("${args[@]}")
    nargs[0]=EVALSHA nargs[1]=$NOOP_SHA
    rbk=0
    rbcg() { # rbcg LABEL CMD...: redis-server instructions per call of CMD (redis-benchmark -c 1 -n RB_CG_N)
        local name=$1
        shift
        rbk=$((rbk + 1))
        callgrind_control -z "$REDIS_PID" >/dev/null
        taskset -c "$LOAD_CPU" redis-benchmark -p "$REDIS_PORT" -n "$RB_CG_N" -c 1 -P 1 -q "$@" >/dev/null
        dump1 "rb$rbk" "$REDIS_PID" rcg
        local per=$(($(ir "$RAW/rcg-rb$rbk.out") / RB_CG_N))
        echo -e "$name\t$RB_CG_N\t$per" >>"$RAW/redis-scripts.tsv"
        echo "redis-server, $name: $per instructions per call"
    }
    rbcg "${args[0]} decide.lua (the gateway's call), a duplicate's ARGV ($((${#args[@]} - 3)) entries)" "${dargs[@]}"
    rbcg "EVALSHA bench/min-dup.lua, same ARGV" "${margs[@]}"
    rbcg "EVALSHA 'return 1', same ARGV" "${nargs[@]}"
    rbcg "EVALSHA 'return 1', no ARGV" EVALSHA "$NOOP_SHA" 0
    rbcg "GET of a dedup record (string form, now)" GET "$skey"
    rbcg "SET ... PXAT of it (string form, now)" SET "$skey" "$srec" PXAT 4102444800000
    rbcg "HGETALL of a dedup record (hash form, before)" HGETALL "$rkey"
    rbcg "HSET of its 9 fields (hash form, before)" HSET "$rkey" s c ref production/rr-x n 2 f 1 l 1 x 1 lease 1 le 1 rf 0
    rbcg "PEXPIREAT (hash form, before)" PEXPIREAT "$rkey" 4102444800000
    rbcg "PING (the per-command floor: read, parse, reply)" PING
else
    stop_pid "$GW_PID"
fi
fi # GATEWAY_CG

if [ "${NGINX_CG:-1}" = 1 ]; then
    need nginx
    NGINX_PORT=$(free_port)
    nginx_conf off
    bg "$GW_CPU" "$RAW/nginx.log" valgrind --tool=callgrind --callgrind-out-file="$RAW/ncg.out" nginx -p "$WORK/nginx" \
        -c "$WORK/nginx/nginx.conf"
    NGINX_PID=$LAST_PID
    wait_http "http://127.0.0.1:$NGINX_PORT/" "$NGINX_PID" 600 || exit 1
    timeout 600 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" seq "$NGINX_PORT" 200 "$B/dup-1.json" 200 >/dev/null
    callgrind_control -z "$NGINX_PID" >/dev/null
    s0=$(date +%s.%N)
    timeout 1200 taskset -c "$LOAD_CPU" "$PY" "$BENCH/tools.py" seq "$NGINX_PORT" "$CG_N" "$B/dup-1.json" 200
    el=$($PY -c "print($(date +%s.%N) - $s0)")
    dump1 "nginx-n$CG_N" "$NGINX_PID" ncg
    callgrind_control -z "$NGINX_PID" >/dev/null
    sleep "$el"
    dump1 nginx-0 "$NGINX_PID" ncg
    a=$(ir "$RAW/ncg-nginx-n$CG_N.out") z=$(ir "$RAW/ncg-nginx-0.out")
    per=$(((a - z) / CG_N))
    echo -e "nginx (dup-1 body)\t1\t$CG_N\t$a\t$z\t$per\t$per\t0" >>"$TSV"
    echo "nginx: $per instructions per request"
    stop_pid "$NGINX_PID"
fi
bench_cleanup

[ "${GATEWAY_CG:-1}" = 1 ] || BODIES=""
"$PY" - "$RAW" "$BODIES" <<'EOF' | tee "$RAW/summary.md"
import csv, os, re, sys
raw, bodies = sys.argv[1], sys.argv[2].split()
print(open(os.path.join(raw, "machine.txt")).read().rstrip().replace("\n", "  \n") + "\n")
rows = list(csv.DictReader(open(os.path.join(raw, "callgrind.tsv")), delimiter="\t"))
print("### Instructions per request (callgrind, sequential keep-alive, 0-request baseline subtracted)\n")
print("| body | requests | gateway instructions per request | per alert | redis-server instructions per request (the decide call) | per alert |")
print("|---|---|---|---|---|---|")
for r in rows:
    rp = int(r["redis_per_request"])
    tail = f"{rp:,} | {rp // int(r['alerts']):,} |" if rp else "— | — |"
    print(f"| {r['body']} | {int(r['n']):,} | {int(r['per_request']):,} | {int(r['per_alert']):,} | " + tail)
print()

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\(\s*[\d.]+%\)\s+)?(?:[<>*]\s+)?(\S+?):(\S+)(?:\s+\(\d[\d,]*x\))?(?:\s+\[(.*)\])?\s*$")

def rows_of(path):
    out, seen = [], set()
    for line in open(path):
        m = LINE.match(line)
        if not m or m.group(2) in ("PROGRAM", "Ir"):
            continue
        ir, f, fn, obj = int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4) or ""
        key = (f, fn)
        if key in seen:
            continue
        seen.add(key)
        out.append((ir, fn, os.path.basename(f), os.path.basename(obj)))
    return out

# functions at the bottom of the worker thread's stack show the whole dump as their own cost after a
# callgrind_control -z (a callgrind artefact): left out of the self list
STACK = {"worker_main", "clone", "start_thread", "uv_run", "main", "aeMain", "aeProcessEvents", "(below main)",
         "__libc_start_call_main", "__libc_start_main@@GLIBC_2.34", "__libc_start_main_impl", "_start"}
p = os.path.join(raw, "redis-scripts.tsv")
if os.path.exists(p):
    print("### redis-server instructions per call (redis-benchmark -c 1, gateway stopped; includes Redis' per-command "
          "network floor, see PING)\n")
    print("| command | calls | instructions per call |")
    print("|---|---|---|")
    for line in open(p):
        name, calls, per = line.rstrip("\n").split("\t")
        print(f"| {name} | {int(calls):,} | {int(per):,} |")
    print()

for r in rows:
    body, n, per = r["body"], int(r["n"]), int(r["per_request"])
    if not os.path.exists(os.path.join(raw, f"annotate-{body}-self.txt")):
        continue
    self_rows = [x for x in rows_of(os.path.join(raw, f"annotate-{body}-self.txt")) if x[1] not in STACK][:15]
    print(f"#### {body}: top 15 functions by own (self) instructions, per request ({per:,} in all)\n")
    print("| Ir per request | % of request | function | file | object |")
    print("|---|---|---|---|---|")
    for ir, fn, f, lib in self_rows:
        print(f"| {ir / n:,.0f} | {100 * ir / n / per:.1f} | `{fn}` | {f} | {lib} |")
    print()
    incl = [x for x in rows_of(os.path.join(raw, f"annotate-{body}-incl.txt"))
            if x[2].endswith(".c") and x[1] not in STACK and "signal-gateway" in x[3] or
            re.match(r"(cJSON_|redis|llhttp_|EVP_|uv_write|uv_try_write|write$)", x[1])][:30]
    print(f"#### {body}: inclusive instructions per request of the gateway's functions and library entry points\n")
    print("| Ir per request (inclusive) | % of request | function | file |")
    print("|---|---|---|---|")
    for ir, fn, f, lib in incl:
        print(f"| {ir / n:,.0f} | {100 * ir / n / per:.1f} | `{fn}` | {f if f != '???' else lib} |")
    print()
EOF
cp "$RAW/summary.md" "$BENCH/results/callgrind-${RAW##*/}.md"
cp "$RAW/summary.md" "$BENCH/results/callgrind.md"
echo "raw outputs: $RAW"
