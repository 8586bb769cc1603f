#!/bin/sh
# scripts/bench-expiry.sh: the expiry benchmark (run at the end of scripts/bench.sh, or alone
# after `make all`). Starts a private redis-server and three build/update-sessiond instances on
# free loopback ports: A and B share one key prefix (--session-timeout 3600, they do the bulk
# sweep together), C has a prefix of its own (--session-timeout 1, the single-sweeper latency).
# Logs in, creates a local library, then tests/bench/expiry.py measures:
#   - N (100 000) sessions given the same deadline T (set in Redis, setup only), A and B
#     sweeping: T -> the last record ERROR (goal <= 5 s), with no request errors from a light
#     GET load on A and B meanwhile;
#   - one fresh session's expiry latency after its deadline (goal <= 1.5 s), 5 times on C alone
#     and 5 times on A+B (median, max);
#   - Redis memory per ACTIVE session: INFO used_memory after the N items and after their N
#     sessions, difference / N (goal <= 1 KiB).
# Records are read in Redis directly (a GET reports an overdue session as ERROR before any
# sweep). Prints a table (also in $BENCH_OUT/expiry.txt) with goal misses flagged. Stops
# everything it started on exit; exits 1 when something fails to start or errors occurred
# (failed requests, sessions left ACTIVE, an instance died), not for a missed goal.
#
# Environment: BENCH_EXPIRY_SESSIONS (100000), BENCH_EXPIRY_LEAD_MS (5000: T - now when the
# deadlines are set), BENCH_EXPIRY_REPEATS (5), BENCH_SERVER (build/update-sessiond),
# BENCH_OUT (build/bench/last).
set -eu

# shellcheck disable=SC2034 # ME: for bench-lib.sh
ME=bench-expiry
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

N=${BENCH_EXPIRY_SESSIONS:-100000}
LEAD=${BENCH_EXPIRY_LEAD_MS:-5000}
REPEATS=${BENCH_EXPIRY_REPEATS:-5}
PREFIX=bench-exp:
PREFIX_C=bench-expc:

positive "BENCH_EXPIRY_SESSIONS=$N" "BENCH_EXPIRY_LEAD_MS=$LEAD" "BENCH_EXPIRY_REPEATS=$REPEATS"
[ "$LEAD" -ge 2000 ] || die "BENCH_EXPIRY_LEAD_MS must be >= 2000"
need python3 redis-server redis-cli curl openssl awk
bench_init "C_PID B_PID A_PID REDIS_PID"

# --- redis, instances A, B (one prefix) and C (its own prefix) --------------------------------
mkdir -p "$OUT"
start_redis
# start NAME PREFIX TIMEOUT: one instance on a free port; sets PORT and PID.
start() {
    start_server "$1" --key-prefix "$2" --session-timeout "$3" --max-connections 4096 --max-connections-per-client 4096
}
start A "$PREFIX" 3600
A_PID=$PID A_PORT=$PORT
start B "$PREFIX" 3600
B_PID=$PID B_PORT=$PORT
start C "$PREFIX_C" 1
C_PID=$PID C_PORT=$PORT
wait_http "$A_PORT" "$A_PID" "$SERVER (A)" "$TMP/A.log"
wait_http "$B_PORT" "$B_PID" "$SERVER (B)" "$TMP/B.log"
wait_http "$C_PORT" "$C_PID" "$SERVER (C)" "$TMP/C.log"

TOKEN=$(login "$A_PORT")
TOKEN_C=$(login "$C_PORT")
library_create "$A_PORT" '{"name":"bench-expiry"}'

# --- measurement ------------------------------------------------------------------------------
LOAD_BEFORE=$(load_avg)
echo "bench-expiry: $N items and sessions on A+B, then the sweep (load average $LOAD_BEFORE)"
status=0
python3 tests/bench/expiry.py --redis "$RPORT" --prefix "$PREFIX" --prefix-c "$PREFIX_C" \
    --port-a "$A_PORT" --port-b "$B_PORT" --port-c "$C_PORT" --token "$TOKEN" \
    --token-c "$TOKEN_C" --library "$LIB" --sessions "$N" --lead-ms "$LEAD" \
    --repeats "$REPEATS" --summary "$TMP/summary" \
    --note " (load average before: $LOAD_BEFORE)" || status=1
save_summary expiry.txt tests/bench/expiry.py

check_instance A "$A_PID" "instance A"
check_instance B "$B_PID" "instance B"
check_instance C "$C_PID" "instance C"
echo "summary: $OUT/expiry.txt"
exit $status
