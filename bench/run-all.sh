#!/usr/bin/env bash
# run-all.sh: every benchmark scenario, one after the other (by hand; not in CI). About 15 minutes on the
# 2-core machine, most of it the 1,000,000-fingerprint fill and callgrind.
#   bench/run-all.sh [ROUNDS]          ROUNDS for the wrk scenarios (default 3)
#   env: as the scripts take (DURATION, CONNS, FILL_TOTAL, CG_N, ...)
# Each script writes bench/results/raw/<ts>-<name>/ and bench/results/<name>.md; this prints them all.
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${1:-3}
make -s -C .. all
# one copy of the binary for every scenario (others may rebuild build/ during the ~20 minutes)
mkdir -p build
export GW_SOURCE_BIN=$PWD/build/signal-gateway-run-all-$$
cp -p ../build/signal-gateway "$GW_SOURCE_BIN"
trap 'rm -f "$GW_SOURCE_BIN"' EXIT
export SKIP_BUILD=1
mkdir -p results
log=results/run-all-$(date -u +%Y%m%dT%H%M%SZ).log
{
    echo "== scenarios 1-4 + issue 3 (throughput.sh)"
    ./throughput.sh "$ROUNDS"
    echo "== scenario 4, latency at set loads (s4-latency.sh)"
    ./s4-latency.sh "$ROUNDS"
    echo "== scenario 5 (s5-new-signal.sh)"
    ./s5-new-signal.sh "$ROUNDS"
    echo "== scenario 6 (s6-memory.sh)"
    ./s6-memory.sh
    echo "== scenario 7 (s7-callgrind.sh)"
    ./s7-callgrind.sh
} 2>&1 | tee "$log"
echo
echo "summaries: bench/results/{throughput,latency,newsignal,memory,callgrind}.md; log: bench/$log"
