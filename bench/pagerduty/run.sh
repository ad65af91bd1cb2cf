#!/bin/sh
# run.sh: builds parse_cost.c against the release library (make all first) and prints each
# adapter's instructions under callgrind (docs/benchmarks.md, "Parse cost of the new sources").
set -eu
cd "$(dirname "$0")/../.."
out=build/bench
mkdir -p "$out"
python3 bench/pagerduty/gen_bodies.py tests/fixtures/grafana-firing.json "$out/pd-am1.json" "$out/pd-event.json" \
    "$out/pd-am50.json"
# shellcheck disable=SC2046
cc -std=gnu17 -O2 -g -D_GNU_SOURCE -iquote src $(pkg-config --cflags libcjson) -o "$out/pd_parse_cost" \
    bench/pagerduty/parse_cost.c build/rel/libsgw.a build/rel/libllhttp.a \
    $(pkg-config --libs libuv libcjson libfyaml nettle hiredis libcurl) -lpthread -lm
cg() {   # cg WRAPPER: the wrapper's inclusive instructions (parse_cost.c)
    f=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect="$1" "$out/pd_parse_cost" \
        "$out/pd-am1.json" "$out/pd-event.json" "$out/pd-am50.json" >/dev/null 2>&1
    callgrind_annotate "$f" | sed -nE 's/^ *([0-9,]+) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
    rm -f "$f"
}
pd=$(cg pd_event)
am1=$(cg am_one)
am50=$(cg am_fifty)
echo "bytes: $(wc -c < "$out/pd-am1.json") (am1) $(wc -c < "$out/pd-event.json") (pagerduty) $(wc -c < "$out/pd-am50.json") (am50)"
echo "adapter_pagerduty_parse   1000 events:           $pd  ($(( pd / 1000 )) per alert)"
echo "adapter_prometheus_parse  1000 x 1-alert bodies: $am1  ($(( am1 / 1000 )) per alert)"
echo "adapter_prometheus_parse  20 x 50-alert bodies:  $am50  ($(( am50 / 1000 )) per alert)"
awk -v p="$pd" -v a="$am1" -v b="$am50" 'BEGIN { printf "ratio: %.2f (same body size), %.2f (against the 50-alert per-alert cost)\n", p / a, p / b }'
