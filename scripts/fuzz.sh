#!/bin/sh
# scripts/fuzz.sh SECONDS NAME...: runs each libFuzzer target build/fuzz/NAME (built by
# `make fuzz`) for SECONDS, one after the other (each is CPU heavy), starting from its seed
# corpus tests/fuzz/corpus/<name>/ (read-only: new inputs go to build/fuzz/corpus/<name>/,
# kept between runs) and prints the executions per target. Exits non-zero if any target
# found a crash, a leak, a timeout (an input running over 10 s) or ran out of memory; the
# input is then in build/fuzz/artifacts/<name>/ and the tail of the target's log is printed.
set -u

SECONDS_EACH=${1:?usage: fuzz.sh SECONDS NAME...}
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
OUT=build/fuzz

# libFuzzer sets the sanitizers up itself; only keep UBSan's stack traces.
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export UBSAN_OPTIONS
unset ASAN_OPTIONS

FAILED=""
SUMMARY=""
for target in "$@"; do
    name=${target#fuzz_}
    bin=$OUT/$target
    seeds=tests/fuzz/corpus/$name
    work=$OUT/corpus/$name
    art=$OUT/artifacts/$name
    log=$OUT/$target.log
    mkdir -p "$work" "$art"
    if [ ! -x "$bin" ]; then
        echo "fuzz: $bin is missing (make fuzz-build)" >&2
        FAILED="$FAILED $target"
        continue
    fi
    echo "== fuzz $target for ${SECONDS_EACH}s (seeds: $(ls "$seeds" 2>/dev/null | wc -l) in $seeds)"
    "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    corp=$(ls "$work" | wc -l)
    line=$(printf '%-16s %12s executions %8s/s  %-10s corpus %s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-}" "$corp")
    if [ "$rc" -ne 0 ]; then
        line="$line  FAILED (exit $rc)"
        FAILED="$FAILED $target"
        echo "fuzz: $target failed; the end of $log:" >&2
        tail -n 60 "$log" >&2
        ls -l "$art" >&2
    fi
    echo "$line"
    SUMMARY="$SUMMARY
$line"
done

echo
echo "fuzz summary (${SECONDS_EACH}s each):$SUMMARY"
if [ -n "$FAILED" ]; then
    echo "fuzz: FAILED:$FAILED"
    exit 1
fi
echo "fuzz: no crash, leak or hang found"
