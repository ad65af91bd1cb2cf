#!/usr/bin/env bash
# issue3-redis.sh: issue 3's benchmark: the duplicate path through Redis (2-alert fixture and 1-alert body) beside redis-benchmark running the same EVALSHA decide with the gateway's own ARGV, in the same rounds.
# A thin wrapper: runs throughput.sh with TARGETS="dup fixture rb" (see throughput.sh for the method and env).
#   bench/issue3-redis.sh [ROUNDS]
set -euo pipefail
TARGETS="${TARGETS:-dup fixture rb}" exec "$(dirname "$0")/throughput.sh" "$@"
