#!/usr/bin/env bash
# s10-tls.sh: the duplicate path over TLS against nginx with TLS and the same certificate (issue 20:
# the gateway at >= 0.5x nginx), with the plaintext pair in the same rounds for the cost of TLS itself.
#
#   bench/s10-tls.sh [ROUNDS]     default 3 rounds; env DURATION=5s CONNS="64" TARGETS="nginx-tls dup-tls nginx dup"
#
# One core each (lib.sh: servers on CPU 0, wrk -t1 on CPU 1), keep-alive, the same one-alert body,
# rotated order per round. The gateway: --workers 1, embedded state (memory), dir sink; after the first
# request every request is a duplicate. nginx-light: `return 200` of the gateway's duplicate reply
# (lib.sh nginx_conf), one process. Both serve the same ECDSA P-256 certificate with TLS 1.2 and 1.3
# and the gateway's cipher lists in its order, server preference on (src/http/tls.c), so wrk gets
# TLS 1.3 with TLS_AES_128_GCM_SHA256 from both (checked with openssl s_client below).
# Writes bench/results/raw/<ts>-tls/ and bench/results/tls-<ts>.md (the ratios per round).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS=${1:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
TARGETS=${TARGETS:-nginx-tls dup-tls nginx dup}
need nginx openssl
bench_init tls
B=$WORK/bodies
TSV=$RAW/measure.tsv
echo -e "round\ttarget\tconns\trps\tp99_ms\trequests\tnon2xx\tsock_errors\tserver_ticks" >"$TSV"
echo "rounds: $ROUNDS duration: $DURATION conns: $CONNS targets: $TARGETS" >>"$RAW/machine.txt"

# one throwaway certificate for both servers
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

start_gateway plain --state memory --sink "dir:$WORK/rr"
GW_PLAIN_PID=$GW_PID GW_PLAIN_PORT=$GW_PORT
start_gateway_tls() {
    GW_TLS_PORT=$(free_port)
    bg "$GW_CPU" "$RAW/gateway-tls.log" "$GW_BIN" --workers 1 --listen "127.0.0.1:$GW_TLS_PORT" \
        --state memory --sink "dir:$WORK/rr-tls" --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
    GW_TLS_PID=$LAST_PID
    wait_http "https://127.0.0.1:$GW_TLS_PORT/healthz" "$GW_TLS_PID" 600 || { tail -5 "$RAW/gateway-tls.log" >&2; exit 1; }
}
start_gateway_tls

# the gateway's lists (src/http/tls.c), for nginx
TLS12=$(sed -n '/^#define CIPHERS_TLS12/,/[^\\]$/p' "$ROOT/src/http/tls.c" | grep -o '"[^"]*"' | tr -d '"' | tr -d '\n')
TLS13=$(sed -n 's/^#define SUITES_TLS13 "\(.*\)"/\1/p' "$ROOT/src/http/tls.c")
[ -n "$TLS12" ] && [ -n "$TLS13" ] || { echo "s10: cannot read the cipher lists from src/http/tls.c" >&2; exit 1; }
NGINX_PORT=$(free_port)
NGINX_TLS_PORT=$(free_port)
nginx_conf on
# the same server block again on a second port, with TLS (the modern protocols and the certificate above)
sed -i "s|^}\$|    server {\n        listen 127.0.0.1:$NGINX_TLS_PORT ssl;\n        ssl_certificate $WORK/cert.pem;\n        ssl_certificate_key $WORK/key.pem;\n        ssl_protocols TLSv1.2 TLSv1.3;\n        ssl_prefer_server_ciphers on;\n        ssl_ciphers $TLS12;\n        ssl_conf_command Ciphersuites $TLS13;\n        ssl_session_cache off;\n        location / {\n            default_type application/json;\n            return 200 '{\"status\":\"duplicate\",\"results\":[{\"status\":\"duplicate\",\"count\":2}]}';\n        }\n    }\n}|" "$WORK/nginx/nginx.conf"
bg "$GW_CPU" "$RAW/nginx.log" nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"
NGINX_PID=$LAST_PID
wait_http "https://127.0.0.1:$NGINX_TLS_PORT/" "$NGINX_PID" || exit 1

# the gateway's first requests create the RR; the next must be duplicates (202)
for url in "http://127.0.0.1:$GW_PLAIN_PORT$GW_PATH" "https://127.0.0.1:$GW_TLS_PORT$GW_PATH"; do
    first=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$B/dup-1.json" "$url")
    second=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$B/dup-1.json" "$url")
    echo "warm-up $url: $first then $second" | tee -a "$RAW/checks.txt"
    [ "$second" = 202 ] || { echo "s10: no duplicate at $url" >&2; exit 1; }
done
proto=$(echo | openssl s_client -connect "127.0.0.1:$GW_TLS_PORT" -alpn http/1.1 2>/dev/null |
    awk '/^New,/' | head -1)
echo "gateway TLS session: $proto" | tee -a "$RAW/checks.txt"
proto2=$(echo | openssl s_client -connect "127.0.0.1:$NGINX_TLS_PORT" 2>/dev/null |
    awk '/^New,/' | head -1)
echo "nginx TLS session: $proto2" | tee -a "$RAW/checks.txt"
[ "$proto" = "$proto2" ] || { echo "s10: the two servers negotiate different sessions" >&2; exit 1; }

measure() { # measure ROUND TARGET CONNS
    local r=$1 t=$2 c=$3 pid url out st0 st1
    case $t in
    nginx) pid=$NGINX_PID url=http://127.0.0.1:$NGINX_PORT$GW_PATH ;;
    nginx-tls) pid=$NGINX_PID url=https://127.0.0.1:$NGINX_TLS_PORT$GW_PATH ;;
    dup) pid=$GW_PLAIN_PID url=http://127.0.0.1:$GW_PLAIN_PORT$GW_PATH ;;
    dup-tls) pid=$GW_TLS_PID url=https://127.0.0.1:$GW_TLS_PORT$GW_PATH ;;
    esac
    out=$RAW/wrk-r$r-$t-c$c.txt
    st0=$(cpu_ticks "$pid")
    run_wrk "$out" "$c" "$url" "$B/dup-1.json"
    st1=$(cpu_ticks "$pid")
    read -r rps p99 reqs bad errs < <($PY "$BENCH/tools.py" wrk "$out")
    echo -e "$r\t$t\t$c\t$rps\t$p99\t$reqs\t$bad\t$errs\t$((st1 - st0))" >>"$TSV"
    printf 'round %s c=%-4s %-9s %9.0f req/s  p99 %7.2f ms  non-2xx %s  errors %s\n' "$r" "$c" "$t" "$rps" "$p99" "$bad" "$errs"
}

read -r -a T <<<"$TARGETS"
for r in $(seq 1 "$ROUNDS"); do
    rot=$(((r - 1) % ${#T[@]}))
    order=("${T[@]:$rot}" "${T[@]:0:$rot}")
    for c in $CONNS; do for t in "${order[@]}"; do measure "$r" "$t" "$c"; done; done
done
echo "gateway TLS after the run: VmRSS $(rss_kib "$GW_TLS_PID") KiB, VmHWM $(hwm_kib "$GW_TLS_PID") KiB" | tee -a "$RAW/checks.txt"
echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
bench_cleanup

# per round and connection count: each target's req/s and the two ratios the issue reads
awk -F'\t' 'NR > 1 { v[$1 " " $3 " " $2] = $4; if ($4 + 0 > 0) n[$2] += 0; rounds[$1 " " $3] = 1 }
    END {
        print "| round, conns | nginx-tls | dup-tls | **dup-tls ÷ nginx-tls** | nginx | dup | dup ÷ nginx | dup-tls ÷ dup |"
        print "|---|---|---|---|---|---|---|---|"
        for (k in rounds) {
            nt = v[k " nginx-tls"]; dt = v[k " dup-tls"]; np = v[k " nginx"]; dp = v[k " dup"]
            printf "| %s | %.0f | %.0f | **%.2f** | %.0f | %.0f | %.2f | %.2f |\n", k, nt, dt, (nt ? dt / nt : 0), np, dp,
                (np ? dp / np : 0), (dp ? dt / dp : 0)
        }
    }' "$TSV" | { read -r h; read -r s; echo "$h"; echo "$s"; sort -n; } | tee "$RAW/summary.md"
cp "$RAW/summary.md" "$BENCH/results/tls-${RAW##*/}.md"
echo "raw outputs: $RAW"
