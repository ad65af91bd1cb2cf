#!/usr/bin/env bash
# run.sh: measure the candidate HTTP server stacks side by side, on loopback, with the same handler.
# Every throughput number is compared with the uvllhttp server measured in the same round, because the
# machine (2 vCPUs, shared) is noisy; callgrind instruction counts are the noise-free cross-check.
#
#   bench/http-libs/run.sh [ROUNDS]          (default 3 rounds; ~6 minutes)
#   env: DURATION=5s CONNS=64 PIPELINE=8 CG_REQUESTS=2000 IDLE_CONNS=1000 SKIP_CALLGRIND=1 SKIP_RSS=1
#
# Needs: scripts/setup --bench (wrk, libh2o-evloop-dev, libmicrohttpd-dev, libuv1-dev, node-llhttp,
# libcjson-dev, valgrind, python3). Writes results/raw/<timestamp>/ (not in git), results/summary.md
# (latest run), results/summary-<timestamp>.md (each run) and results/checks.txt (latest checks).
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${1:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-64}
PIPELINE=${PIPELINE:-8}
CG_REQUESTS=${CG_REQUESTS:-2000}
IDLE_CONNS=${IDLE_CONNS:-1000}
BODY_FILE=${BODY_FILE:-$(cd ../../.. && pwd)/shared/fixtures/alertmanager/pod-crashloop-firing-2-alerts.json}
[ -r "$BODY_FILE" ] || BODY_FILE=/work/shared/fixtures/alertmanager/pod-crashloop-firing-2-alerts.json
export BODY_FILE
URL_PATH=/api/v1/signals/prometheus
SERVERS=(h2o mhd uvllhttp uvllhttp-d) # uvllhttp-d: same binary with -d (every reply held via HPE_PAUSED)
SERVER_CPU=0
CLIENT_CPU=1

for tool in wrk taskset curl python3 valgrind callgrind_annotate; do
    command -v "$tool" >/dev/null || { echo "run.sh: missing $tool (scripts/setup --bench)" >&2; exit 1; }
done
make -s
RAW=results/raw/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$RAW"
ulimit -n 8192 # the idle-connection test holds IDLE_CONNS sockets on each side

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

argv_of() { # server name -> command line without the port
    case $1 in
    uvllhttp-d) echo "build/uvllhttp -d" ;;
    *) echo "build/$1" ;;
    esac
}

# start NAME PORT [WRAPPER...]: start a server pinned to SERVER_CPU; sets LAST_PID; waits until it answers.
start() {
    local name=$1 port=$2 i
    shift 2
    # shellcheck disable=SC2046
    taskset -c "$SERVER_CPU" "$@" $(argv_of "$name") "$port" >>"$RAW/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for i in $(seq 1 200); do # up to 20 s (valgrind starts slowly)
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/ready" && return 0
        kill -0 "$LAST_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "run.sh: $name did not start (see $RAW/$name.log)" >&2
    exit 1
}

stop() { # stop PID: SIGTERM, wait (bounded), forget it
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local keep=() p
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

{
    echo "date_utc: $(date -u '+%Y-%m-%d %H:%M:%S')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
    echo "cpu_family_model: $(lscpu | awk -F: '/^CPU family|^Model:|^Hypervisor vendor/ {gsub(/^ +/, "", $2); printf "%s ", $2}')"
    echo "kernel: $(uname -r)"
    echo "loadavg_start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rounds: $ROUNDS duration: $DURATION conns: $CONNS pipeline: $PIPELINE body: $(wc -c <"$BODY_FILE") bytes"
    dpkg-query -W -f='pkg: ${Package} ${Version}\n' libh2o-evloop0.13 libmicrohttpd12 libuv1 node-llhttp \
        libcjson1 wrk valgrind 2>/dev/null || true
} >"$RAW/machine.txt"

declare -A PORT
for s in "${SERVERS[@]}"; do
    PORT[$s]=$(free_port)
    start "$s" "${PORT[$s]}"
done

echo "== correctness checks" | tee "$RAW/checks.txt"
for s in "${SERVERS[@]}"; do
    url="http://127.0.0.1:${PORT[$s]}$URL_PATH"
    {
        echo "-- $s"
        # two POSTs and a GET elsewhere on one connection: status, body, and that curl reused it
        curl -sv --max-time 5 -H 'Content-Type: application/json' --data-binary "@$BODY_FILE" "$url" \
            --next -H 'Content-Type: application/json' --data-binary "@$BODY_FILE" "$url" \
            --next "http://127.0.0.1:${PORT[$s]}/other" 2>&1 |
            grep -E '^< HTTP|^\{"|Re-using|^\* Connected' | sed 's/Found bundle.*//'
        echo
        timeout 30 python3 client.py pipe "${PORT[$s]}" "$BODY_FILE"
        timeout 30 python3 client.py trickle "${PORT[$s]}" "$BODY_FILE"
        timeout 120 python3 client.py probe "${PORT[$s]}"
    } >>"$RAW/checks.txt" 2>&1
    n202=$(grep -c '^< HTTP/1.1 202' <(sed -n "/^-- $s\$/,/^-- /p" "$RAW/checks.txt") || true)
    nreuse=$(grep -c 'Re-using' <(sed -n "/^-- $s\$/,/^-- /p" "$RAW/checks.txt") || true)
    [ "$n202" = 2 ] && [ "$nreuse" = 2 ] || { echo "run.sh: $s failed the curl check" >&2; exit 1; }
    grep -q "^pipe: \[202" <(sed -n "/^-- $s\$/,/^-- /p" "$RAW/checks.txt") &&
        grep -q "^trickle: 202" <(sed -n "/^-- $s\$/,/^-- /p" "$RAW/checks.txt") ||
        { echo "run.sh: $s failed the pipelining or trickle check" >&2; exit 1; }
    echo "$s: curl 202 x2, keep-alive reused x2, pipelining in order, trickled headers ok" | tee -a "$RAW/checks.txt"
done

echo "== wrk: $ROUNDS rounds x ${#SERVERS[@]} servers x (keep-alive, pipelined x$PIPELINE), $DURATION each"
for r in $(seq 1 "$ROUNDS"); do
    # rotate the order each round so that no server always runs first or last
    order=("${SERVERS[@]:$(((r - 1) % ${#SERVERS[@]}))}" "${SERVERS[@]:0:$(((r - 1) % ${#SERVERS[@]}))}")
    for mode in ka pipe; do
        for s in "${order[@]}"; do
            depth=1
            [ "$mode" = pipe ] && depth=$PIPELINE
            out="$RAW/wrk-r$r-$s-$mode.txt"
            PIPELINE=$depth timeout 60 taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency \
                -s post.lua "http://127.0.0.1:${PORT[$s]}$URL_PATH" >"$out" 2>&1
            printf 'round %s %-4s %-11s %s\n' "$r" "$mode" "$s" "$(grep Requests/sec "$out")"
        done
    done
done
cleanup

if [ -z "${SKIP_CALLGRIND:-}" ]; then
    echo "== callgrind: instructions per request = (I(200+N) - I(200)) / N, N=$CG_REQUESTS sequential keep-alive"
    for s in "${SERVERS[@]}"; do
        for n in 200 $((200 + CG_REQUESTS)); do
            port=$(free_port)
            start "$s" "$port" valgrind --tool=callgrind --callgrind-out-file="$RAW/cg-$s-$n.out"
            timeout 300 taskset -c "$CLIENT_CPU" python3 client.py seq "$port" "$n" "$BODY_FILE" >>"$RAW/$s.log"
            stop "$LAST_PID"
            callgrind_annotate --inclusive=yes "$RAW/cg-$s-$n.out" >"$RAW/cg-$s-$n.txt" 2>/dev/null
        done
        echo "$s done"
    done
fi

if [ -z "${SKIP_RSS:-}" ]; then
    echo "== RSS: idle, $IDLE_CONNS idle connections, and the same after one request each"
    for s in "${SERVERS[@]}"; do
        port=$(free_port)
        start "$s" "$port"
        timeout 120 python3 client.py idle "$port" "$LAST_PID" "$IDLE_CONNS" "$BODY_FILE" | tee "$RAW/rss-$s.txt"
        stop "$LAST_PID"
    done
fi

echo "loadavg_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RAW/machine.txt"
python3 summarize.py "$RAW" "$CG_REQUESTS" | tee "$RAW/summary.md"
# kept in git (results/raw/ is not): this run's summary, and the latest summary and checks
cp "$RAW/summary.md" "results/summary-${RAW##*/}.md"
cp "$RAW/summary.md" results/summary.md
cp "$RAW/checks.txt" results/checks.txt
echo "raw outputs: $RAW"
