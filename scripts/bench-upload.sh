#!/bin/sh
# scripts/bench-upload.sh: the upload benchmark (run at the end of scripts/bench.sh, or alone
# after `make all`). Starts a private redis-server and one build/update-sessiond on free loopback
# ports, its --storage-dir in a temporary directory that also receives a file of random bytes
# (1 GiB, generated before anything is timed), logs in and creates a local library; then
# tests/bench/upload.py measures, in the same run (its docstring has the details):
#   - `openssl dgst -sha256 FILE` (best of 2; the file is read from the page cache): the
#     reference (`sha256sum` is timed too, for information);
#   - the GET p99 of the idle instance (GETs of an update session, one at a time);
#   - a PUSH upload of FILE with its SHA256: File.add, then `curl -T FILE` to the upload
#     endpoint (200), best of 2, each on a new session; File.get must then show READY and the
#     same checksum. Goals: PUT throughput >= 0.7 x openssl's; server CPU (utime + stime from
#     /proc/PID/stat) <= 1.5 s per GiB; peak RSS (VmRSS every 20 ms, VmHWM) <= 32 MiB; GET p99
#     on the same instance during the PUT <= 5 ms;
#   - BENCH_UPLOAD_CONC uploads at once of the first BENCH_UPLOAD_CONC_MIB MiB of FILE.
#     Goals: aggregate >= 0.6 x openssl's, slowest / fastest >= 0.8.
# Prints a table (also in $BENCH_OUT/upload.txt) with goal misses flagged. Stops everything it
# started and removes the temporary directory (the file and the uploads) on exit; exits 1 when
# something fails to start or an upload or a check fails, not for a missed goal.
#
# Environment: BENCH_UPLOAD_MIB (1024: file size in MiB), BENCH_UPLOAD_REPEATS (2),
# BENCH_UPLOAD_CONC (8: concurrent uploads, 0: none), BENCH_UPLOAD_CONC_MIB (256, at most
# BENCH_UPLOAD_MIB),
# BENCH_SERVER (build/update-sessiond), BENCH_OUT (build/bench/last), TMPDIR (/tmp: where the
# file and the storage go, 2 x the file size free at least).
set -eu

# shellcheck disable=SC2034 # ME: for bench-lib.sh
ME=bench-upload
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

MIB=${BENCH_UPLOAD_MIB:-1024}
REPEATS=${BENCH_UPLOAD_REPEATS:-2}
CONC=${BENCH_UPLOAD_CONC:-8}
CONC_MIB=${BENCH_UPLOAD_CONC_MIB:-256}
PREFIX=bench-upl:

positive "BENCH_UPLOAD_MIB=$MIB" "BENCH_UPLOAD_REPEATS=$REPEATS" "BENCH_UPLOAD_CONC_MIB=$CONC_MIB"
case $CONC in '' | *[!0-9]*) die "BENCH_UPLOAD_CONC must be a number (got '$CONC')" ;; esac
[ "$CONC_MIB" -le "$MIB" ] || CONC_MIB=$MIB
need python3 redis-server redis-cli curl openssl sha256sum awk head
bench_init "PY_PID SERVER_PID REDIS_PID"

# The files and at most one staged upload of the big one, or CONC of the small one, at a time
# (upload.py cancels each session), plus some room.
need_kib=$((MIB * 1024 * 2 + CONC_MIB * 1024 * (CONC + 1) + 65536))
have_kib=$(df -Pk "$TMP" | awk 'NR == 2 { print $4 }')
[ "${have_kib:-0}" -ge "$need_kib" ] ||
    die "$TMP: ${have_kib:-?} KiB free, need $need_kib (set TMPDIR or BENCH_UPLOAD_MIB)"

# --- the file (before anything is timed) ------------------------------------------------------
mkdir -p "$OUT"
FILE=$TMP/big.bin
BYTES=$((MIB * 1048576))
echo "bench-upload: generating $MIB MiB of random data in $TMP"
openssl rand -out "$FILE" "$BYTES" 2>/dev/null || head -c "$BYTES" /dev/urandom >"$FILE" ||
    die "cannot write $FILE"
[ "$(wc -c <"$FILE")" -eq "$BYTES" ] || die "$FILE is not $BYTES bytes"
SMALL=$TMP/small.bin
head -c $((CONC_MIB * 1048576)) "$FILE" >"$SMALL" || die "cannot write $SMALL"

# --- redis, the instance ----------------------------------------------------------------------
start_redis
start_server server --key-prefix "$PREFIX"
SERVER_PID=$PID
wait_http "$PORT" "$SERVER_PID" "$SERVER" "$TMP/server.log"

TOKEN=$(login "$PORT")
library_create "$PORT" '{"name":"bench-upload"}'

# --- measurement ------------------------------------------------------------------------------
LOAD_BEFORE=$(load_avg)
echo "bench-upload: openssl, then $REPEATS PUT(s) of $MIB MiB, then $CONC x $CONC_MIB MiB at once (load average $LOAD_BEFORE)"
status=0
# In the background and waited for, so that a TERM or INT to this script stops it (and the
# cleanup runs) at once rather than after the measurement.
python3 tests/bench/upload.py --port "$PORT" --pid "$SERVER_PID" --token "$TOKEN" \
    --library "$LIB" --file "$FILE" --small "$SMALL" --concurrent "$CONC" \
    --repeats "$REPEATS" --summary "$TMP/summary" \
    --note " (load average before: $LOAD_BEFORE)" &
PY_PID=$!
wait "$PY_PID" || status=1
PY_PID=
save_summary upload.txt tests/bench/upload.py

check_instance server "$SERVER_PID" "the server"
echo "summary: $OUT/upload.txt"
exit $status
