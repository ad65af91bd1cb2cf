#!/usr/bin/env bash
# run.sh: the C JSON parsers Debian 12 packages, against cJSON as the gateway uses it (an arena
# behind its allocation hooks), on the webhooks the gateway benchmarks send: the 50-alert storm
# body (bench/tools.py bodies) and Alertmanager's 2-alert fixture. One process per body, pinned
# to one CPU; each round times every parser once in turn, and each parser's time is divided by
# cJSON-with-the-arena's of the SAME round (the machine is shared and noisy); the table gives
# medians over rounds.
#
#   bench/json-libs/run.sh [ROUNDS]     (default 5; about a minute)
# Needs: scripts/setup --bench. Writes results/summary-<timestamp>.md (and prints it).
set -euo pipefail
cd "$(dirname "$0")"
ROUNDS=${1:-5}
ROOT=$(cd ../.. && pwd)
make -s build/json-libs
W=$(mktemp -d /tmp/sgw-json-libs-XXXXXX)
trap 'rm -rf "$W"' EXIT
python3 "$ROOT/bench/tools.py" bodies "$W" "$ROOT/tests/fixtures" >/dev/null
TS=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p results
OUT=results/summary-$TS.md
{
    echo "# JSON parsers on the gateway's webhook bodies ($TS)"
    echo
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); nproc $(nproc); loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
    for p in libcjson1 libyajl2 libjsonparser1.1 libjsmn-dev; do
        echo "pkg: $p $(dpkg-query -W -f='${Version}' "$p" 2>/dev/null || echo '?')"
    done
    echo
    for spec in "storm-50.json 50" "fixture-2.json 2"; do
        set -- $spec
        echo "### $1 ($(stat -c %s "$W/$1") bytes, $2 alerts), $ROUNDS rounds, pinned to CPU 0"
        echo
        taskset -c 0 build/json-libs "$W/$1" "$2" "$ROUNDS" >"$W/$1.out"
        python3 - "$W/$1.out" <<'PY'
import statistics, sys
rounds = []
for line in open(sys.argv[1]):
    f = line.split(':', 1)[1].split()
    rounds.append({f[k]: float(f[k + 1]) for k in range(0, len(f), 2)})
names = list(rounds[0])
base = 'cjson-arena'
what = {
    'cjson-arena': 'cJSON 1.7.15, allocation hooks on an arena (what the gateway does)',
    'cjson-malloc': 'cJSON 1.7.15, malloc and cJSON_Delete',
    'yajl-callbacks': 'yajl 2.1.0 callbacks that do nothing (no tree: the floor of a streaming parser)',
    'yajl-tree': 'yajl 2.1.0 yajl_tree_parse (malloc only) and yajl_tree_free',
    'json-parser': 'json-parser 1.1.0, allocator on the arena',
    'jsmn-tokens': 'jsmn 1.1.0 (JSMN_STRICT): token offsets only, no strings decoded, structure not fully checked',
}
print('| parser | µs per parse (median) | ÷ cJSON with the arena (median of per-round ratios) | per round |')
print('|---|---|---|---|')
for n in names:
    us = statistics.median(r[n] for r in rounds) / 1000
    ratios = [r[n] / r[base] for r in rounds]
    print('| %s | %.1f | **%.2f** | %s |' % (what.get(n, n), us, statistics.median(ratios),
                                        ' / '.join('%.2f' % x for x in ratios)))
PY
        echo
    done
} | tee "$OUT"
echo "summary: bench/json-libs/$OUT"
