#!/bin/sh
# scripts/test.sh: `make test`. Builds the sanitizer (ASan+UBSan) build, runs every unit test
# suite, starts a throw-away redis-server on a free loopback port, runs the store integration
# test and the Python system tests against it. Prints "N passed, N failed" (steps and suites)
# on the last line; exits non-zero if anything failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
PYTHONDONTWRITEBYTECODE=1
export ASAN_OPTIONS UBSAN_OPTIONS PYTHONDONTWRITEBYTECODE

SAN=build/san
JOBS=$(nproc 2>/dev/null || echo 2)
PASSED=0
FAILED=0
FAILED_NAMES=""
TMP=""
REDIS_PID=""
REDIS_PORT=""

summary() {
    echo
    [ -n "$FAILED_NAMES" ] && echo "failed:$FAILED_NAMES"
    echo "$PASSED passed, $FAILED failed"
}

# step NAME COMMAND...: runs one step or suite and counts it.
step() {
    name=$1
    shift
    echo
    echo "== $name"
    if "$@"; then
        PASSED=$((PASSED + 1))
        echo "== $name: ok"
        return 0
    fi
    FAILED=$((FAILED + 1))
    FAILED_NAMES="$FAILED_NAMES $name"
    echo "== $name: FAILED"
    return 1
}

cleanup() {
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$REDIS_PID" 2>/dev/null
        i=0
        while kill -0 "$REDIS_PID" 2>/dev/null && [ "$i" -lt 50 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -9 "$REDIS_PID" 2>/dev/null || true
    fi
    REDIS_PID=""
    [ -n "$TMP" ] && rm -rf "$TMP"
    TMP=""
}
trap cleanup EXIT
trap 'cleanup; echo "test: interrupted" >&2; exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Starts redis-server on a free port (a few tries, in case the port is taken meanwhile).
start_redis() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/usd-test.XXXXXX") || return 1
    for _ in 1 2 3 4 5; do
        REDIS_PORT=$(free_port) || return 1
        redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --protected-mode yes \
            --save '' --appendonly no --dir "$TMP" --daemonize no \
            --logfile "$TMP/redis.log" </dev/null >/dev/null 2>&1 &
        REDIS_PID=$!
        i=0
        while [ "$i" -lt 100 ]; do
            if [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; then
                echo "redis-server $REDIS_PID on 127.0.0.1:$REDIS_PORT"
                return 0
            fi
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
            i=$((i + 1))
        done
        kill "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
        REDIS_PID=""
    done
    echo "test: could not start redis-server; last log:" >&2
    tail -n 20 "$TMP/redis.log" >&2 2>/dev/null
    return 1
}

# 1. The sanitizer build of the server. Nothing else can run without it.
if ! step build make -j"$JOBS" SANITIZE=1 all; then
    summary
    exit 1
fi

# 2. Unit tests: each tests/unit/test_*.c is one suite (built by the Makefile's unit rules).
UNITS=""
for src in tests/unit/test_*.c; do
    [ -e "$src" ] || continue
    UNITS="$UNITS $SAN/tests/$(basename "$src" .c)"
done
if [ -n "$UNITS" ]; then
    # shellcheck disable=SC2086
    if step build-unit make -j"$JOBS" SANITIZE=1 $UNITS; then
        for t in $UNITS; do
            step "unit/$(basename "$t")" "$t"
        done
    fi
else
    echo "test: no unit tests in tests/unit/"
fi

# 2b. Fuzzing: each libFuzzer target of tests/fuzz/ (clang, ASan+UBSan) runs from its seeds for
# USD_FUZZ_SECONDS (default 10) as one suite; a crash, leak or hang fails it.
step fuzz make -j"$JOBS" fuzz FUZZ_SECONDS="${USD_FUZZ_SECONDS:-10}"

# 3. The store integration test and the seeding tool the system tests use.
step build-tools make -j"$JOBS" SANITIZE=1 "$SAN/usd-seed" "$SAN/tests/itest_store"

# govc, which the compatibility tests drive: built once from Debian's sources (about a minute
# and some apt-get the first time; its progress shows here, not inside a test).
build_govc() {
    out=$(sh scripts/govc.sh) || return 1
    GOVC_BIN=$(printf '%s\n' "$out" | tail -n 1)
    export GOVC_BIN
    echo "govc: $GOVC_BIN"
}
step govc build_govc

# 4. A Redis of our own for the integration and system tests.
if step redis start_redis; then
    USD_TEST_REDIS=127.0.0.1:$REDIS_PORT
    USD_BIN=$SAN/update-sessiond
    USD_SEED=$SAN/usd-seed
    USD_REQUIRE_GOVC=1 # the govc compatibility tests must run, not skip
    export USD_TEST_REDIS USD_BIN USD_SEED USD_REQUIRE_GOVC

    if [ -x "$SAN/tests/itest_store" ]; then
        step itest_store "$SAN/tests/itest_store"
    else
        step itest_store false
    fi
    step system python3 -m unittest discover -s tests/system -t tests/system -v
fi

cleanup
summary
[ "$FAILED" -eq 0 ]
