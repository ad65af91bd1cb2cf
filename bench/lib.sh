# lib.sh: shared helpers for the bench/*.sh scenario scripts (sourced, not run).
# Loopback only; every process started here is recorded in PIDS and stopped by PID on exit.
#
# CPU layout on the 2-core machine (override with GW_CPU / LOAD_CPU / REDIS_CPU):
#   CPU 0: the server under test (signal-gateway --workers 1, nginx worker_processes 1, Alertmanager)
#   CPU 1: the load generator (wrk -t1, redis-benchmark, Python clients) AND redis-server
# Redis shares CPU 1 with the load generator, so the gateway has CPU 0 to itself, as nginx and
# Alertmanager do. Every throughput number is compared only with numbers from the same run.

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
FIXTURES=$ROOT/tests/fixtures
GW_CPU=${GW_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
REDIS_CPU=${REDIS_CPU:-1}
PY=/usr/bin/python3 # Debian's Python (python3-redis etc.), as the tests use
GW_PATH=/api/v1/signals/prometheus

PIDS=()
GW_WRAP=()
REDIS_WRAP=()
TMPDIRS=()
bench_cleanup() {
    local p d
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
    for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
    TMPDIRS=()
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "bench: missing $t (scripts/setup --bench)" >&2; exit 1; }
    done
}

# bench_init NAME: RAW=bench/results/raw/<timestamp>-NAME, machine.txt, and a private copy of the
# release binary (other sessions may rebuild build/ while a benchmark runs).
bench_init() {
    need wrk taskset curl valgrind redis-server redis-cli
    [ -x "$PY" ] || { echo "bench: $PY missing" >&2; exit 1; }
    ulimit -n 16384 # 1,000 connections on each side, plus Redis and the API server
    RAW=${RAW:-$BENCH/results/raw/$(date -u +%Y%m%dT%H%M%SZ)-$1}
    mkdir -p "$RAW"
    WORK=$(mktemp -d /tmp/sgw-bench-XXXXXX)
    TMPDIRS+=("$WORK")
    if [ -z "${SKIP_BUILD:-}" ]; then make -s -C "$ROOT" all >/dev/null; fi
    mkdir -p "$BENCH/build"
    GW_BIN=$BENCH/build/signal-gateway-$$
    GW_SOURCE_BIN=${GW_SOURCE_BIN:-$ROOT/build/signal-gateway} # run-all.sh: one copy for every scenario
    if [ "$GW_SOURCE_BIN" = none ]; then : >"$GW_BIN"; else cp "$GW_SOURCE_BIN" "$GW_BIN"; fi   # none: compare.sh builds its own
    trap 'bench_cleanup; rm -f "$GW_BIN"' EXIT
    machine_info >"$RAW/machine.txt"
    $PY "$BENCH/tools.py" bodies "$WORK/bodies" "$FIXTURES"
}

machine_info() {
    echo "date_utc: $(date -u '+%Y-%m-%d %H:%M:%S')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "cpu_family_model: $(lscpu | awk -F: '/^CPU family|^Model:|^Hypervisor vendor/ {gsub(/^ +/, "", $2); printf "%s ", $2}')"
    echo "kernel: $(uname -r)"
    echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
    [ "$GW_SOURCE_BIN" = none ] || echo "gateway: $("$GW_BIN" --version 2>&1 | head -1), binary sha256 $(sha256sum "$GW_BIN" | cut -c1-12) built $(date -u -r "$GW_SOURCE_BIN" '+%Y-%m-%d %H:%M:%S') UTC; repo HEAD now $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo ', src has uncommitted changes')"
    echo "layout: gateway/nginx/alertmanager CPU $GW_CPU; load generator CPU $LOAD_CPU; redis-server CPU $REDIS_CPU"
    dpkg-query -W -f='pkg: ${Package} ${Version}\n' nginx-light prometheus-alertmanager redis-server wrk valgrind \
        libuv1 libhiredis0.14 libcjson1 libcurl4 2>/dev/null || true
}

free_port() {
    $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bg CPU LOG CMD...: start CMD pinned to CPU with output to LOG; LAST_PID; recorded for cleanup.
bg() {
    local cpu=$1 log=$2
    shift 2
    taskset -c "$cpu" "$@" >>"$log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# wait_http URL PID [TRIES]: until URL answers (any HTTP status), up to TRIES x 0.1 s.
wait_http() {
    local url=$1 pid=$2 tries=${3:-300} i
    for i in $(seq 1 "$tries"); do
        curl -sk -o /dev/null --max-time 1 "$url" && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "bench: $url did not answer (pid $pid)" >&2
    return 1
}

stop_pid() { # SIGTERM, bounded wait, SIGKILL; forget it
    local pid=$1 i p keep=()
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# cpu_ticks PID: utime+stime (clock ticks) of PID and its direct children (nginx's worker).
cpu_ticks() {
    local pid=$1 total=0 c
    for c in $pid $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
        total=$((total + $(awk '{print $14 + $15}' /proc/"$c"/stat 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# nginx_conf MASTER(on|off): writes $WORK/nginx/nginx.conf for the scenario-1 ceiling on
# $NGINX_PORT (one worker, `return 200` of the gateway's duplicate reply, no access log)
nginx_conf() {
    mkdir -p "$WORK/nginx/logs"
    cat >"$WORK/nginx/nginx.conf" <<NGX
daemon off;
master_process $1;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path $WORK/nginx/body;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            default_type application/json;
            return 200 '{"status":"duplicate","results":[{"status":"duplicate","count":2}]}';
        }
    }
}
NGX
}

rss_kib() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' /proc/"$1"/status; }

# start_redis: REDIS_PORT, REDIS_PID (pinned to REDIS_CPU, no persistence)
start_redis() {
    REDIS_PORT=$(free_port)
    mkdir -p "$WORK/redis"
    bg "$REDIS_CPU" "$RAW/redis.log" "${REDIS_WRAP[@]}" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" \
        --save '' --appendonly no --logfile ''
    REDIS_PID=$LAST_PID
    for _ in $(seq 1 300); do redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && return 0; sleep 0.1; done
    echo "bench: redis did not start" >&2
    exit 1
}
rcli() { redis-cli -p "$REDIS_PORT" "$@"; }
# script calls so far: EVALSHA (commit, claim, flushed; decide where functions are refused) + FCALL (decide)
evalsha_calls() {
    rcli INFO commandstats | tr -d '\r' |
        awk -F'[:=,]' '$1 == "cmdstat_evalsha" || $1 == "cmdstat_fcall" {n += $3} END {print n + 0}'
}

# start_gateway NAME [ARGS...]: GW_PORT, GW_PID; one worker on GW_CPU; log level info (one JSON line per
# request, written to a file, as in production); extra env from GW_ENV (e.g. "SGW_STORM_ENABLED=false").
start_gateway() {
    local name=$1
    shift
    GW_PORT=$(free_port)
    # shellcheck disable=SC2086
    bg "$GW_CPU" "${GW_LOG:-$RAW/gateway-$name.log}" env ${GW_ENV:-} "${GW_WRAP[@]}" "$GW_BIN" --workers 1 \
        --listen "127.0.0.1:$GW_PORT" "$@"
    GW_PID=$LAST_PID
    wait_http "http://127.0.0.1:$GW_PORT/healthz" "$GW_PID" 600 || { tail -5 "${GW_LOG:-$RAW/gateway-$name.log}" >&2; exit 1; }
    for _ in $(seq 1 100); do # ready = Redis connected and scripts loaded
        curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/readyz" | grep -q 200 && return 0
        sleep 0.1
    done
    echo "bench: gateway $name not ready" >&2
    tail -5 "${GW_LOG:-$RAW/gateway-$name.log}" >&2
    exit 1
}

# gateway_idle: waits (at most 30 s) until the gateway has no signal in flight, so that one
# measurement does not start while the previous one's backlog (1,000 storm webhooks) is
# still being decided: its first requests would be refused as overloaded
gateway_idle() {
    for _ in $(seq 1 300); do
        curl -s "http://127.0.0.1:$GW_PORT/metrics" | grep -q '^gateway_signals_in_flight 0$' && return 0
        sleep 0.1
    done
    echo "bench: gateway still busy after 30 s" >&2
}

# post URL BODYFILE: one POST; prints the HTTP status
post() {
    curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$2" "$1"
}

# run_wrk OUT CONNS URL BODYFILE [LUA]: wrk -t1 on LOAD_CPU, keep-alive, fixed body
# run_wrk OUT CONNS URL BODY [LUA]: wrk's output in OUT and its CPU time (clock ticks, user + system)
# in OUT.ticks: the subshell's cutime + cstime once wrk, its only child, has been waited for.
run_wrk() {
    local out=$1 conns=$2 url=$3 body=$4 lua=${5:-$BENCH/http-libs/post.lua}
    (
        BODY_FILE=$body timeout 120 taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"$DURATION" --timeout 10s --latency \
            -s "$lua" "$url" >"$out" 2>&1 || true
        awk '{print $16 + $17}' "/proc/$BASHPID/stat" >"$out.ticks"
    )
}
wrk_reqs() { awk '/requests in/ {print $1}' "$1"; }
wrk_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
