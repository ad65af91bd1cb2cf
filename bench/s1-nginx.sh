#!/usr/bin/env bash
# s1-nginx.sh: scenario 1, the raw ceiling: nginx-light `return 200` + a small JSON body, same POST body, 64 and 1,000 connections.
# A thin wrapper: runs throughput.sh with TARGETS="nginx" (see throughput.sh for the method and env).
#   bench/s1-nginx.sh [ROUNDS]
set -euo pipefail
TARGETS="${TARGETS:-nginx}" exec "$(dirname "$0")/throughput.sh" "$@"
