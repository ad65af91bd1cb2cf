#!/usr/bin/env bash
# s4-storm.sh: scenario 4, the gateway's 50-alert storm webhook with Redis (tests/fixtures/oom-storm-50-alerts.json; after the first, 50 aggregated alerts in one EVALSHA), with the INFO commandstats / MONITOR check of EVALSHA calls per webhook.
# A thin wrapper: runs throughput.sh with TARGETS="storm" (see throughput.sh for the method and env).
#   bench/s4-storm.sh [ROUNDS]
set -euo pipefail
TARGETS="${TARGETS:-storm}" exec "$(dirname "$0")/throughput.sh" "$@"
