#!/usr/bin/env bash
# decide-call.sh: Redis' own ceiling for duplicate decisions (the duplicate path's limit for every
# gateway replica together): redis-benchmark making the gateway's decide call for one duplicate
# alert, as the gateway makes it (FCALL of the decide function) against the same file run as a
# script (EVALSHA: the fallback) and against decide.lua of an older commit run as a script, all in
# the same run, alternating, on one redis-server (CPU 1; redis-benchmark on CPU 0).
#   bench/decide-call.sh [ROUNDS] [OLD_COMMIT]      default 3 rounds, OLD_COMMIT 7950660 (the last
#                                                    script-only decide.lua)
#   env: N=200000 calls per measurement, -c 64 -P 1
# Writes bench/results/decide-call-<ts>.md (and the raw CSVs to bench/results/raw/<ts>-decide-call).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROUNDS=${1:-3}
OLD=$(git -C "$ROOT" rev-parse --short "${2:-7950660}")
N=${N:-200000}
SKIP_BUILD=1 GW_SOURCE_BIN=none bench_init decide-call
need redis-benchmark
start_redis
SRC=$ROOT/src/state/scripts/decide.lua
SHA_NEW=$(rcli SCRIPT LOAD "$(cat "$SRC")")
SHA_OLD=$(rcli SCRIPT LOAD "$(git -C "$ROOT" show "$OLD:src/state/scripts/decide.lua")")
FN=sgw_decide_${SHA_NEW:0:16}
rcli FUNCTION LOAD REPLACE "#!lua name=sgw_${SHA_NEW:0:16}
local SGW_FUNCTION = '$FN'
$(cat "$SRC")" >/dev/null
now=$(date +%s%3N)
fp=$(printf '%064x' 7)
ref=checkout/rr-0123456789abcdef
# the record in both forms: the old script's (d1:, up to session 6) and today's (d2:)
rcli SET "sgw:d1:$fp" "c|1|$((now - 1000))|$((now - 1000))|$((now + 10 ** 9))|0|0|0|$ref" >/dev/null
rcli SET "sgw:d2:$fp" "$(printf 'c%013d%013d|1|%d|0|0|0|%s' $((now + 10 ** 9)) $((now - 1000)) $((now - 1000)) "$ref")" >/dev/null
name=KubePodOOMKilled ns=checkout res=checkout:Pod:worker-00
meta="0|$((now - 60000))|${#name}|${#ns}|${#res}|$name$ns$res$ref"
ARGS=(0 sgw: "$now" 300000 30000 1 10 60000 5 120000 60000 300000 100 1 "" "" "$fp" "$meta")
# the old file's ARGV has no repeats argument (session 8 added it after callers)
ARGS_OLD=("${ARGS[@]}")
git -C "$ROOT" show "$OLD:src/state/scripts/decide.lua" | grep -q "repeats" || ARGS_OLD=("${ARGS[@]:0:15}" "$fp" "$meta")
echo "old: $OLD ($SHA_OLD); now: $(git -C "$ROOT" rev-parse --short HEAD) ($SHA_NEW, function $FN); N=$N" | tee -a "$RAW/machine.txt"
run() { # run NAME CMD...: calls per second
    local out=$RAW/$1-r$r.csv
    shift
    taskset -c "$GW_CPU" redis-benchmark -p "$REDIS_PORT" -n "$N" -c 64 -P 1 --csv "$@" >"$out" 2>&1
    tail -1 "$out" | awk -F'","' '{print $2}'
}
TSV=$RAW/measure.tsv
echo -e "round\told_script\tscript\tfunction" >"$TSV"
for r in $(seq 1 "$ROUNDS"); do
    a=$(run old EVALSHA "$SHA_OLD" "${ARGS_OLD[@]}")
    b=$(run script EVALSHA "$SHA_NEW" "${ARGS[@]}")
    c=$(run function FCALL "$FN" "${ARGS[@]}")
    echo -e "$r\t$a\t$b\t$c" | tee -a "$TSV"
done
count=$(rcli GET "sgw:d2:$fp" | cut -d'|' -f2)   # today's file ran 2 of the 3 targets
[ "$count" -gt "$((ROUNDS * N * 3 / 2))" ] || { echo "decide-call: the record counted $count calls, not all duplicates" >&2; exit 1; }
OUT=$BENCH/results/decide-call-$(basename "$RAW" | cut -d- -f1).md
$PY - "$TSV" "$OLD" >"$OUT" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
med = lambda k: statistics.median(float(r[k]) for r in rows)
ratio = lambda k: statistics.median(float(r[k]) / float(r["old_script"]) for r in rows)
print(f"### The dup-1 decide call, redis-benchmark -c 64 -P 1 (calls per second; {len(rows)} rounds)\n")
print("| call | median | per round | ÷ the old script (median of per-round ratios) |")
print("|---|---|---|---|")
for k, label in (("old_script", f"EVALSHA decide.lua of {sys.argv[2]} (before)"),
                 ("script", "EVALSHA decide.lua now (the fallback)"), ("function", "FCALL of the decide function (what the gateway calls)")):
    print(f"| {label} | {med(k):,.0f} | " + " / ".join(f"{float(r[k]) / 1000:.1f}k" for r in rows) + f" | {ratio(k):.2f} |")
PY
cat "$OUT"
echo "raw outputs: $RAW"
