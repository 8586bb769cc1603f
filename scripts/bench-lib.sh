# scripts/bench-lib.sh: the setup the benchmark scripts share (scripts/bench.sh,
# scripts/bench-expiry.sh, scripts/bench-upload.sh). Sourced, not run:
#
#     ME=bench-foo                       # names the messages and the temporary directory
#     . "$(dirname "$0")/bench-lib.sh"
#
# Defines SERVER (BENCH_SERVER, build/update-sessiond), OUT (BENCH_OUT, build/bench/last) and
# PASS (the admin password of the users file), and the helpers below: checks, the temporary
# directory and the exit trap that stops what the script started, free ports, a private
# redis-server, the users file, server instances, login and library creation. Sourcing it cds
# to the top of the tree: paths are relative to it.
# shellcheck shell=sh
# shellcheck disable=SC2034,SC2153 # PID, status, LIB...: for the sourcing script; ME, TOKEN: from it

cd "$(dirname "$0")/.." || exit

SERVER=${BENCH_SERVER:-build/update-sessiond}
OUT=${BENCH_OUT:-build/bench/last}
PASS=bench-pass

die() {
    echo "$ME: $*" >&2
    exit 1
}

# positive NAME=VALUE...: dies unless every VALUE is a positive integer.
positive() {
    for v in "$@"; do
        case ${v#*=} in
            '' | *[!0-9]* | 0) die "${v%%=*} must be a positive integer (got '${v#*=}')" ;;
        esac
    done
}

# need TOOL...: dies unless every TOOL is installed and $SERVER is built.
need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
    done
    [ -x "$SERVER" ] || die "$SERVER is missing: run make all"
}

# bench_init PIDVARS: creates $TMP (usd-$ME.XXXXXX); PIDVARS names the variables (emptied here)
# that hold the pids to stop on exit, in that order, before $TMP is removed.
bench_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/usd-$ME.XXXXXX")
    STOP_PIDS=$1
    for v in $STOP_PIDS; do eval "$v="; done
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Free ports are taken below the kernel's ephemeral range, so that no client connection can
    # take one between the check and the bind.
    TAKEN=
    PORT_LO=10000
    PORT_HI=$(awk '{ print ($1 > 11000 ? $1 - 1 : 60000) }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)
}

# SIGINT: update-sessiond stops at once on it (SIGTERM would drain for --drain-ms first).
stop_pid() {
    [ -n "$1" ] || return 0
    kill -INT "$1" 2>/dev/null || return 0
    i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    for v in $STOP_PIDS; do
        eval "stop_pid \"\${$v:-}\""
    done
    rm -rf "$TMP"
}

# A port no socket uses (and that this script has not handed out yet).
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

# start_redis: a private redis-server on a free port (no persistence, files in $TMP); sets
# RPORT and REDIS_PID once it answers. Then the users file (admin, password $PASS) and the
# storage directory of the instances.
start_redis() {
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
}

# start_server NAME OPTION...: one $SERVER on a free port, on the private redis, storage and
# users file, with the OPTIONs, its output in $TMP/NAME.log; sets PORT and PID (it may not
# answer yet: wait_http).
start_server() {
    name=$1
    shift
    PORT=$(free_port)
    "$SERVER" --listen "127.0.0.1:$PORT" --redis "127.0.0.1:$RPORT" --storage-dir "$TMP/storage" \
        --users-file "$TMP/users" "$@" >"$TMP/$name.log" 2>&1 &
    PID=$!
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

# api PORT METHOD PATH [JSON]: one request to the instance at PORT as $TOKEN; sets CODE, body
# in $TMP/resp.
api() {
    set -- "$1" "$2" "$3" "${4:-}"
    if [ -n "$4" ]; then
        CODE=$(curl -sS --max-time 10 -o "$TMP/resp" -w '%{http_code}' -X "$2" \
            -H "vmware-api-session-id: $TOKEN" -H 'Content-Type: application/json' \
            --data-binary "$4" "http://127.0.0.1:$1$3") || CODE=000
    else
        CODE=$(curl -sS --max-time 10 -o "$TMP/resp" -w '%{http_code}' -X "$2" \
            -H "vmware-api-session-id: $TOKEN" "http://127.0.0.1:$1$3") || CODE=000
    fi
}
# expect WHAT CODE...: dies unless $CODE is one of the codes.
expect() {
    what=$1
    shift
    for c in "$@"; do [ "$CODE" = "$c" ] && return 0; done
    die "$what: HTTP $CODE: $(head -c 500 "$TMP/resp" 2>/dev/null)"
}

# library_create PORT JSON: a local library (JSON: its create spec) as $TOKEN; sets LIB.
library_create() {
    api "$1" POST /api/content/local-library "$2"
    expect "library create" 201
    LIB=$(resp_string)
    [ -n "$LIB" ] || die "library create: no id in $(head -c 200 "$TMP/resp")"
}

load_avg() {
    cut -d' ' -f1-3 /proc/loadavg
}

# save_summary FILE SCRIPT: $TMP/summary (written by SCRIPT, which failed if there is none) and
# the load average now, to $OUT/FILE; the load average also to the output.
save_summary() {
    [ -f "$TMP/summary" ] || die "$2 failed"
    {
        cat "$TMP/summary"
        echo "load average after: $(load_avg)"
    } >"$OUT/$1"
    echo "load average after: $(load_avg)"
}

# check_instance NAME PID WHAT: sets status=1 unless PID still runs; shows the warnings and
# errors $TMP/NAME.log holds.
check_instance() {
    if ! kill -0 "$2" 2>/dev/null; then
        tail -n 20 "$TMP/$1.log" >&2
        echo "$ME: $3 died" >&2
        status=1
    fi
    if grep -v ' level=info ' "$TMP/$1.log" | grep -q .; then
        echo "$ME: $3 logged:" >&2
        grep -v ' level=info ' "$TMP/$1.log" | head -n 20 >&2
    fi
}
