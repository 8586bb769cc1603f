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

cd "$(dirname "$0")/.."

N=${BENCH_EXPIRY_SESSIONS:-100000}
LEAD=${BENCH_EXPIRY_LEAD_MS:-5000}
REPEATS=${BENCH_EXPIRY_REPEATS:-5}
SERVER=${BENCH_SERVER:-build/update-sessiond}
OUT=${BENCH_OUT:-build/bench/last}
PASS=bench-pass
PREFIX=bench-exp:
PREFIX_C=bench-expc:

die() {
    echo "bench-expiry: $*" >&2
    exit 1
}

for v in "BENCH_EXPIRY_SESSIONS=$N" "BENCH_EXPIRY_LEAD_MS=$LEAD" "BENCH_EXPIRY_REPEATS=$REPEATS"; do
    case ${v#*=} in
        '' | *[!0-9]* | 0) die "${v%%=*} must be a positive integer (got '${v#*=}')" ;;
    esac
done
[ "$LEAD" -ge 2000 ] || die "BENCH_EXPIRY_LEAD_MS must be >= 2000"
for tool in python3 redis-server redis-cli curl openssl awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
[ -x "$SERVER" ] || die "$SERVER is missing: run make all"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/usd-bench-expiry.XXXXXX")
REDIS_PID=
A_PID=
B_PID=
C_PID=

stop_pid() {
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    stop_pid "$C_PID"
    stop_pid "$B_PID"
    stop_pid "$A_PID"
    stop_pid "$REDIS_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A port no socket uses (and that this script has not handed out yet), below the kernel's
# ephemeral range (as in scripts/bench.sh).
TAKEN=
PORT_LO=10000
PORT_HI=$(awk '{ print ($1 > 11000 ? $1 - 1 : 60000) }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
free_port() {
    while :; do
        p=$(awk -v s="$(date +%N)$$" -v lo="$PORT_LO" -v hi="$PORT_HI" \
            'BEGIN { srand(s % 2147483647); print lo + int(rand() * (hi - lo)) }')
        case " $TAKEN " in *" $p "*) continue ;; esac
        if command -v ss >/dev/null 2>&1 && ss -Htan "( sport = :$p or dport = :$p )" | grep -q .; then
            continue
        fi
        TAKEN="$TAKEN $p"
        echo "$p"
        return 0
    done
}

# wait_http PORT PID NAME LOG: until something answers HTTP on PORT (10 s at most).
wait_http() {
    i=0
    while [ $i -lt 100 ]; do
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$4" >&2; die "$3 exited during start-up"; }
        curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    tail -n 20 "$4" >&2
    die "$3 does not answer on 127.0.0.1:$1"
}

# The JSON string that is the whole of $TMP/resp, without its quotes (empty if it is not one).
resp_string() {
    tr -d '\r\n' <"$TMP/resp" | sed -n 's/^[[:space:]]*"\([^"\\]*\)"[[:space:]]*$/\1/p'
}

# login PORT: prints the token of a new login as admin on the instance at PORT.
login() {
    code=$(curl -sS --max-time 10 -o "$TMP/resp" -w '%{http_code}' -X POST -u "admin:$PASS" \
        "http://127.0.0.1:$1/api/session") || code=000
    case $code in 200 | 201) ;; *) die "login on port $1: HTTP $code: $(head -c 300 "$TMP/resp")" ;; esac
    tok=$(resp_string)
    [ -n "$tok" ] || die "login: the answer is not a JSON string: $(head -c 200 "$TMP/resp")"
    echo "$tok"
}

# --- redis, instances A, B (one prefix) and C (its own prefix) --------------------------------
mkdir -p "$OUT"
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" \
    --logfile "$TMP/redis.log" &
REDIS_PID=$!
i=0
until [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ]; do
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$TMP/redis.log" >&2; die "redis-server exited"; }
    [ $i -lt 100 ] || die "redis-server does not answer on port $RPORT"
    sleep 0.1
    i=$((i + 1))
done

HASH=$(openssl passwd -6 -salt benchsalt "$PASS")
printf 'admin:%s:*\n' "$HASH" >"$TMP/users"
mkdir -p "$TMP/storage"
# start NAME PREFIX TIMEOUT: one instance on a free port; sets PORT and PID.
start() {
    PORT=$(free_port)
    "$SERVER" --listen "127.0.0.1:$PORT" --redis "127.0.0.1:$RPORT" --storage-dir "$TMP/storage" \
        --users-file "$TMP/users" --key-prefix "$2" --session-timeout "$3" \
        --max-connections 4096 >"$TMP/$1.log" 2>&1 &
    PID=$!
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
code=$(curl -sS --max-time 10 -o "$TMP/resp" -w '%{http_code}' -X POST \
    -H "vmware-api-session-id: $TOKEN" -H 'Content-Type: application/json' \
    --data-binary '{"name":"bench-expiry"}' "http://127.0.0.1:$A_PORT/api/content/local-library") || code=000
[ "$code" = 201 ] || die "library create: HTTP $code: $(head -c 300 "$TMP/resp")"
LIB=$(resp_string)
[ -n "$LIB" ] || die "library create: no id in $(head -c 200 "$TMP/resp")"

# --- measurement ------------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-expiry: $N items and sessions on A+B, then the sweep (load average $LOAD_BEFORE)"
status=0
python3 tests/bench/expiry.py --redis "$RPORT" --prefix "$PREFIX" --prefix-c "$PREFIX_C" \
    --port-a "$A_PORT" --port-b "$B_PORT" --port-c "$C_PORT" --token "$TOKEN" \
    --token-c "$TOKEN_C" --library "$LIB" --sessions "$N" --lead-ms "$LEAD" \
    --repeats "$REPEATS" --summary "$TMP/summary" \
    --note " (load average before: $LOAD_BEFORE)" || status=1
[ -f "$TMP/summary" ] || die "tests/bench/expiry.py failed"
{
    cat "$TMP/summary"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/expiry.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# check NAME PID: the instance is still running; shows what it logged beyond its start-up line.
check() {
    if ! kill -0 "$2" 2>/dev/null; then
        tail -n 20 "$TMP/$1.log" >&2
        echo "bench-expiry: instance $1 died" >&2
        status=1
    fi
    if grep -v '^update-sessiond listening on ' "$TMP/$1.log" | grep -q .; then
        echo "bench-expiry: instance $1 logged:" >&2
        grep -v '^update-sessiond listening on ' "$TMP/$1.log" | head -n 20 >&2
    fi
}
check A "$A_PID"
check B "$B_PID"
check C "$C_PID"
echo "summary: $OUT/expiry.txt"
exit $status
