#!/bin/sh
# scripts/bench-upload.sh: the upload benchmark (run at the end of scripts/bench.sh, or alone
# after `make all`). Starts a private redis-server and one build/update-sessiond on free loopback
# ports, its --storage-dir in a temporary directory that also receives a file of random bytes
# (1 GiB, generated before anything is timed), logs in and creates a local library; then
# tests/bench/upload.py measures, in the same run:
#   - `sha256sum FILE` (best of 2; the file is read from the page cache);
#   - a PUSH upload of FILE with its SHA256: File.add, then `curl -T FILE` to the upload
#     endpoint (200), best of 2, each on a new session; File.get must then show READY and the
#     same checksum. Goal: PUT throughput >= 0.8 x sha256sum's;
#   - the server's peak RSS during the PUT: /proc/PID/status VmRSS every 20 ms and VmHWM (reset
#     before each PUT when allowed). Goal: <= 32 MiB.
# Prints a table (also in $BENCH_OUT/upload.txt) with goal misses flagged. Stops everything it
# started and removes the temporary directory (the file and the uploads) on exit; exits 1 when
# something fails to start or an upload or a check fails, not for a missed goal.
#
# Environment: BENCH_UPLOAD_MIB (1024: file size in MiB), BENCH_UPLOAD_REPEATS (2),
# BENCH_SERVER (build/update-sessiond), BENCH_OUT (build/bench/last), TMPDIR (/tmp: where the
# file and the storage go, 2 x the file size free at least).
set -eu

cd "$(dirname "$0")/.."

MIB=${BENCH_UPLOAD_MIB:-1024}
REPEATS=${BENCH_UPLOAD_REPEATS:-2}
SERVER=${BENCH_SERVER:-build/update-sessiond}
OUT=${BENCH_OUT:-build/bench/last}
PASS=bench-pass
PREFIX=bench-upl:

die() {
    echo "bench-upload: $*" >&2
    exit 1
}

for v in "BENCH_UPLOAD_MIB=$MIB" "BENCH_UPLOAD_REPEATS=$REPEATS"; do
    case ${v#*=} in
        '' | *[!0-9]* | 0) die "${v%%=*} must be a positive integer (got '${v#*=}')" ;;
    esac
done
for tool in python3 redis-server redis-cli curl openssl sha256sum awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
[ -x "$SERVER" ] || die "$SERVER is missing: run make all"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/usd-bench-upload.XXXXXX")
REDIS_PID=
SERVER_PID=
PY_PID=

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
    stop_pid "$PY_PID"
    stop_pid "$SERVER_PID"
    stop_pid "$REDIS_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The file and at most one staged upload of it at a time (upload.py cancels each session), plus
# some room.
need_kib=$((MIB * 1024 * 2 + 65536))
have_kib=$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')
[ "${have_kib:-0}" -ge "$need_kib" ] ||
    die "$TMP: ${have_kib:-?} KiB free, need $need_kib (set TMPDIR or BENCH_UPLOAD_MIB)"

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

# --- the file (before anything is timed) ------------------------------------------------------
mkdir -p "$OUT"
FILE=$TMP/big.bin
BYTES=$((MIB * 1048576))
echo "bench-upload: generating $MIB MiB of random data in $TMP"
openssl rand -out "$FILE" "$BYTES" 2>/dev/null || head -c "$BYTES" /dev/urandom >"$FILE" ||
    die "cannot write $FILE"
[ "$(wc -c <"$FILE")" -eq "$BYTES" ] || die "$FILE is not $BYTES bytes"

# --- redis, the instance ----------------------------------------------------------------------
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
PORT=$(free_port)
"$SERVER" --listen "127.0.0.1:$PORT" --redis "127.0.0.1:$RPORT" --storage-dir "$TMP/storage" \
    --users-file "$TMP/users" --key-prefix "$PREFIX" >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
wait_http "$PORT" "$SERVER_PID" "$SERVER" "$TMP/server.log"

code=$(curl -sS --max-time 10 -o "$TMP/resp" -w '%{http_code}' -X POST -u "admin:$PASS" \
    "http://127.0.0.1:$PORT/api/session") || code=000
case $code in 200 | 201) ;; *) die "login: HTTP $code: $(head -c 300 "$TMP/resp")" ;; esac
TOKEN=$(resp_string)
[ -n "$TOKEN" ] || die "login: the answer is not a JSON string: $(head -c 200 "$TMP/resp")"
code=$(curl -sS --max-time 10 -o "$TMP/resp" -w '%{http_code}' -X POST \
    -H "vmware-api-session-id: $TOKEN" -H 'Content-Type: application/json' \
    --data-binary '{"name":"bench-upload"}' "http://127.0.0.1:$PORT/api/content/local-library") || code=000
[ "$code" = 201 ] || die "library create: HTTP $code: $(head -c 300 "$TMP/resp")"
LIB=$(resp_string)
[ -n "$LIB" ] || die "library create: no id in $(head -c 200 "$TMP/resp")"

# --- measurement ------------------------------------------------------------------------------
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench-upload: sha256sum, then $REPEATS PUT(s) of $MIB MiB (load average $LOAD_BEFORE)"
status=0
# In the background and waited for, so that a TERM or INT to this script stops it (and the
# cleanup runs) at once rather than after the measurement.
python3 tests/bench/upload.py --port "$PORT" --pid "$SERVER_PID" --token "$TOKEN" \
    --library "$LIB" --file "$FILE" --repeats "$REPEATS" --summary "$TMP/summary" \
    --note " (load average before: $LOAD_BEFORE)" &
PY_PID=$!
wait "$PY_PID" || status=1
PY_PID=
[ -f "$TMP/summary" ] || die "tests/bench/upload.py failed"
{
    cat "$TMP/summary"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/upload.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    tail -n 20 "$TMP/server.log" >&2
    echo "bench-upload: the server died" >&2
    status=1
fi
if grep -v '^update-sessiond listening on ' "$TMP/server.log" | grep -q .; then
    echo "bench-upload: the server logged:" >&2
    grep -v '^update-sessiond listening on ' "$TMP/server.log" | head -n 20 >&2
fi
echo "summary: $OUT/upload.txt"
exit $status
