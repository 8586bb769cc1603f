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

# shellcheck disable=SC2034 # ME: for bench-lib.sh
ME=bench-upload
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

MIB=${BENCH_UPLOAD_MIB:-1024}
REPEATS=${BENCH_UPLOAD_REPEATS:-2}
PREFIX=bench-upl:

positive "BENCH_UPLOAD_MIB=$MIB" "BENCH_UPLOAD_REPEATS=$REPEATS"
need python3 redis-server redis-cli curl openssl sha256sum awk
bench_init "PY_PID SERVER_PID REDIS_PID"

# The file and at most one staged upload of it at a time (upload.py cancels each session), plus
# some room.
need_kib=$((MIB * 1024 * 2 + 65536))
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

# --- redis, the instance ----------------------------------------------------------------------
start_redis
start_server server --key-prefix "$PREFIX"
SERVER_PID=$PID
wait_http "$PORT" "$SERVER_PID" "$SERVER" "$TMP/server.log"

TOKEN=$(login "$PORT")
library_create "$PORT" '{"name":"bench-upload"}'

# --- measurement ------------------------------------------------------------------------------
LOAD_BEFORE=$(load_avg)
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
save_summary upload.txt tests/bench/upload.py

check_instance server "$SERVER_PID" "the server"
echo "summary: $OUT/upload.txt"
exit $status
