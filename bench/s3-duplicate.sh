#!/usr/bin/env bash
# s3-duplicate.sh: scenario 3, the gateway's duplicate path with Redis (one alert, the same every time = one EVALSHA), beside nginx and Alertmanager in the same rounds (for the ratios).
# A thin wrapper: runs throughput.sh with TARGETS="nginx am dup" (see throughput.sh for the method and env).
#   bench/s3-duplicate.sh [ROUNDS]
set -euo pipefail
TARGETS="${TARGETS:-nginx am dup}" exec "$(dirname "$0")/throughput.sh" "$@"
