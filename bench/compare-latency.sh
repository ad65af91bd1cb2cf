#!/usr/bin/env bash
# compare-latency.sh: one change's before/after in latency at a set load. Builds the release
# gateway at two commits (git worktrees, as compare.sh), then runs bench/s4-latency.sh (open
# loop by default: bench/openloop.lua) once per commit per round, alternating A, B, B, A, ...;
# every run starts its own redis-server and gateway, so the two never share state.
#   bench/compare-latency.sh [ROUNDS] COMMIT_A COMMIT_B        default 3 rounds
#   env: as s4-latency.sh: BODY=storm-50, RATES="3000 3500 4000", CONNS=64, DURATION=10s, MODE=open
# Prints per offered rate and commit: the median p99 over rounds (and each round's), the rate
# reached, requests sent late, gateway and Redis CPU per request.
# Writes bench/results/raw/<ts>-compare-latency/<commit>-r<round>/ (one s4-latency run each)
# and bench/results/compare-latency-<ts>.md.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH")
ROUNDS=3
[[ ${1:-} =~ ^[0-9]+$ ]] && { ROUNDS=$1; shift; }
[ $# -eq 2 ] || { echo "usage: bench/compare-latency.sh [ROUNDS] COMMIT_A COMMIT_B" >&2; exit 2; }
A=$(git -C "$ROOT" rev-parse --short "$1")
B=$(git -C "$ROOT" rev-parse --short "$2")
export RATES=${RATES:-3000 3500 4000}
TS=$(date -u +%Y%m%dT%H%M%SZ)
TOP=$BENCH/results/raw/$TS-compare-latency
WORK=$(mktemp -d /tmp/sgw-compare-latency-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$TOP"
for c in "$A" "$B"; do
    wt=$WORK/src-$c
    git -C "$ROOT" worktree add -q --detach "$wt" "$c"
    make -s -C "$wt" build/signal-gateway >"$TOP/build-$c.log" 2>&1 || { tail "$TOP/build-$c.log"; exit 1; }
    cp "$wt/build/signal-gateway" "$WORK/signal-gateway-$c"
    git -C "$ROOT" worktree remove --force "$wt"
done
for r in $(seq 1 "$ROUNDS"); do
    order=("$A" "$B")
    [ $((r % 2)) -eq 0 ] && order=("$B" "$A")
    for c in "${order[@]}"; do
        echo "== round $r: $c"
        RAW=$TOP/$c-r$r SKIP_BUILD=1 NO_SUMMARY=1 GW_SOURCE_BIN=$WORK/signal-gateway-$c \
            "$BENCH/s4-latency.sh" 1 | grep '^round' | sed "s/^round 1/round $r $c/"
    done
done
/usr/bin/python3 "$BENCH/summarize.py" latency_ab "$TOP" "$A" "$B" | tee "$BENCH/results/compare-latency-$TS.md"
echo "summary: bench/results/compare-latency-$TS.md"
