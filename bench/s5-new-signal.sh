#!/usr/bin/env bash
# s5-new-signal.sh: scenario 5, the new-signal path against the Kubernetes API test server.
# Every request is a new alert (unique.lua: a new pod per request => a new fingerprint => CREATE =>
# POST RemediationRequest to the API server => commit). Storms are off (SGW_STORM_ENABLED=false: the
# unique pods share one alertname/namespace and would otherwise fold into one storm RR), and the
# client-side API rate limit is lifted (SGW_SINK_QPS/BURST; the default 50/s would be the bottleneck by
# design). CPU layout for this scenario: the API test server (Python, the component under question) has
# CPU 1 to itself in every run; its client side shares CPU 0: the gateway, redis-server and wrk in the
# gateway runs, wrk alone in the direct runs. (With wrk and Redis on CPU 1 beside the API server, as in the
# other scenarios, they took CPU from it and the gateway path measured 0.45 of the direct rate; see
# docs/benchmarks.md.) In each round, interleaved:
#   gw    wrk -c64 -> gateway -> API server: RRs created per second, gateway CPU per RR (utime+stime from
#         /proc/<pid>/stat), API server CPU per RR
#   gw32  the same with wrk -c32 (32 = the gateway's libcurl connection cap per host)
#   api   wrk -c32 POSTing the same RR object straight at the API server (unique names): its own capacity
#
#   bench/s5-new-signal.sh [ROUNDS]       env: DURATION=5s GW_CONNS=64 API_CONNS=32 API_CPU=1 CLIENT_CPU=0
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
DURATION=${DURATION:-5s}
GW_CONNS=${GW_CONNS:-64}
API_CONNS=${API_CONNS:-32}
API_CPU=${API_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
GW_CPU=$CLIENT_CPU REDIS_CPU=$CLIENT_CPU LOAD_CPU=$CLIENT_CPU
bench_init newsignal
B=$WORK/bodies
TSV=$RAW/measure.tsv
echo -e "round\ttarget\trate\tp99_ms\trequests\tnon2xx\tsock_errors\tcreated\tclient_ticks\tapi_ticks" >"$TSV"
echo "rounds: $ROUNDS duration: $DURATION gateway conns: $GW_CONNS and 32, direct conns: $API_CONNS;" \
    "API server alone on CPU $API_CPU; gateway, redis-server and wrk on CPU $CLIENT_CPU" >>"$RAW/machine.txt"

# the API test server, with an admin token for the gateway's service account
mkdir -p "$WORK/k8s"
cat >"$WORK/k8s/tokens.json" <<'EOF'
{"tokens": {"gateway-sa-token": {"username": "system:serviceaccount:kubernaut-system:gateway", "uid": "sa-1",
 "groups": ["system:serviceaccounts"], "admin": true}}}
EOF
bg "$API_CPU" "$RAW/api-server.log" "$PY" "$ROOT/tests/k8s-api-server/server.py" --listen 127.0.0.1:0 \
    --tls-dir "$WORK/k8s/tls" --tokens "$WORK/k8s/tokens.json" --ready-file "$WORK/k8s/url" \
    --kubeconfig-out "$WORK/k8s/kubeconfig"
API_PID=$LAST_PID
for _ in $(seq 1 200); do [ -s "$WORK/k8s/url" ] && break; sleep 0.1; done
API=$(head -1 "$WORK/k8s/url")
API_PORT=${API##*:}
AUTH="Authorization: Bearer gateway-sa-token"
kc() { curl -s --cacert "$WORK/k8s/tls/ca.crt" -H "$AUTH" -H 'Content-Type: application/json' "$@"; }
for ns in production kubernaut-system; do
    kc -o /dev/null -w "namespace $ns: %{http_code}\n" -XPOST "$API/api/v1/namespaces" \
        -d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}" | tee -a "$RAW/checks.txt"
done

start_redis
GW_LOG=$WORK/gateway.log
GW_ENV="SGW_STORM_ENABLED=false SGW_SINK_QPS=100000 SGW_SINK_BURST=10000" \
    start_gateway newsignal --state "redis://127.0.0.1:$REDIS_PORT" --sink kubernetes --kubeconfig "$WORK/k8s/kubeconfig"
GW=http://127.0.0.1:$GW_PORT$GW_PATH

# warm-up: one new signal through the gateway, and the RR it created becomes the direct-POST template
sed 's/__POD__/warmup-0/g' "$B/unique-1.tmpl" >"$WORK/warm.json"
st=$(post "$GW" "$WORK/warm.json")
echo "gateway new signal: $st" | tee -a "$RAW/checks.txt"
[ "$st" = 201 ] || { echo "s5: expected 201" >&2; exit 1; }
kc "$API/apis/remediation.kubernaut.io/v1alpha1/namespaces/production/remediationrequests" |
    $PY -c '
import json, sys
o = json.load(sys.stdin)["items"][0]
md = o["metadata"]
for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"):
    md.pop(k, None)
md["name"] = "rr-__NAME__"
o.pop("status", None)
json.dump(o, sys.stdout, separators=(",", ":"))' >"$WORK/rr.tmpl"
echo "RR template for the direct POSTs: $(wc -c <"$WORK/rr.tmpl") bytes" | tee -a "$RAW/checks.txt"
RRS=$API/apis/remediation.kubernaut.io/v1alpha1/namespaces/production/remediationrequests
st=$(sed 's/__NAME__/probe-0/' "$WORK/rr.tmpl" | kc -o /dev/null -w '%{http_code}' -XPOST "$RRS" --data-binary @-)
echo "direct POST of the template: $st" | tee -a "$RAW/checks.txt"
[ "$st" = 201 ] || exit 1

created() { $PY "$BENCH/tools.py" metric "$GW_PORT" gateway_crds_created_total; }
secs=${DURATION%s}

for r in $(seq 1 "$ROUNDS"); do
    targets=(gw gw32 api)
    rot=$(((r - 1) % 3))
    for t in "${targets[@]:$rot}" "${targets[@]:0:$rot}"; do # rotate who goes first
        out=$RAW/wrk-r$r-$t.txt
        conns=$GW_CONNS
        [ "$t" = gw32 ] && conns=32
        if [ "$t" != api ]; then
            c0=$(created) g0=$(cpu_ticks "$GW_PID") a0=$(cpu_ticks "$API_PID")
            # halfway through: how many connections the gateway holds to the API server
            (sleep $((${DURATION%s} / 2)); echo "round $r: gateway -> API server connections mid-run:" \
                "$(ss -Htn state established "( dport = :$API_PORT )" | wc -l)" >>"$RAW/checks.txt") &
            RUN_ID=r$r-$RANDOM BODY_FILE=$B/unique-1.tmpl timeout 120 taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" \
                -d"$DURATION" --timeout 10s --latency -s "$BENCH/unique.lua" "$GW" >"$out" 2>&1 || true
            c1=$(created) g1=$(cpu_ticks "$GW_PID") a1=$(cpu_ticks "$API_PID")
            n=$((c1 - c0))
        else
            g0=0 g1=0 a0=$(cpu_ticks "$API_PID")
            RUN_ID=d$r-$RANDOM PLACEHOLDER=__NAME__ HEADERS="$AUTH" BODY_FILE=$WORK/rr.tmpl timeout 120 \
                taskset -c "$CLIENT_CPU" wrk -t1 -c"$API_CONNS" -d"$DURATION" --timeout 10s --latency \
                -s "$BENCH/unique.lua" "$RRS" >"$out" 2>&1 || true
            a1=$(cpu_ticks "$API_PID")
        fi
        read -r rps p99 reqs bad errs < <($PY "$BENCH/tools.py" wrk "$out")
        [ "$t" = api ] && n=$((reqs - bad))
        rate=$($PY -c "print($n / $secs)")
        echo -e "$r\t$t\t$rate\t$p99\t$reqs\t$bad\t$errs\t$n\t$((g1 - g0))\t$((a1 - a0))" >>"$TSV"
        printf 'round %s %-3s %7.0f RR/s  p99 %7.1f ms  requests %s  non-2xx %s  errors %s\n' "$r" "$t" "$rate" "$p99" \
            "$reqs" "$bad" "$errs"
    done
done

echo "gateway after the run: VmRSS $(rss_kib "$GW_PID") KiB, VmHWM $(hwm_kib "$GW_PID") KiB" | tee -a "$RAW/checks.txt"
grep -v '"level":"info"' "$GW_LOG" | head -50 >"$RAW/gateway-warnings.log" || true
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
bench_cleanup
$PY "$BENCH/summarize.py" newsignal "$RAW" | tee "$RAW/summary.md"
cp "$RAW/summary.md" "$BENCH/results/newsignal-${RAW##*/}.md"
cp "$RAW/summary.md" "$BENCH/results/newsignal.md"
echo "raw outputs: $RAW"
