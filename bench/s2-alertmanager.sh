#!/usr/bin/env bash
# s2-alertmanager.sh: scenario 2, Alertmanager 0.25's own intake: POST /api/v2/alerts, one alert per request.
# A thin wrapper: runs throughput.sh with TARGETS="am" (see throughput.sh for the method and env).
#   bench/s2-alertmanager.sh [ROUNDS]
set -euo pipefail
TARGETS="${TARGETS:-am}" exec "$(dirname "$0")/throughput.sh" "$@"
