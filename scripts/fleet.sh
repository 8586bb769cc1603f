#!/bin/bash
# scripts/fleet.sh: `make fleet`. A whole production layout on loopback, in the foreground: a
# Redis primary (AOF on) and its replica, three Sentinels watching them, three update-sessiond
# instances finding the primary through the Sentinels (--redis sentinel://...), sharing one
# --storage-dir and users file, each with its own --admin-listen, and haproxy 2.6 balancing
# them with /readyz health checks, run on scripts/examples/haproxy.cfg itself. Prints the URL
# and the admin login. Ctrl-C or SIGTERM stops all nine processes (haproxy, the instances, the
# sentinels, the replica, the primary) and waits for each; none is left behind.
#
# An instance that exits while the fleet runs (kill -TERM it: it drains, then exits) is started
# again on the same ports, so a rolling restart can be tried by hand; one that exits within
# 5 s of its start is reported and left down.
#
# Environment:
#   USD_BIN             the server binary (default build/update-sessiond, built if missing)
#   USD_FLEET_DIR       state: data, configs, logs, pids (default var/fleet; kept across runs)
#   USD_FLEET_PORT      haproxy's port on 127.0.0.1 (default: a free port)
#   USD_FLEET_DRAIN_MS  the instances' --drain-ms (default 3000; haproxy takes an instance out
#                       within 2 checks of 500 ms)
#   USD_HAPROXY         the haproxy binary (default /usr/sbin/haproxy)
# Every other port is a free loopback port, chosen at each start. $USD_FLEET_DIR/pids lists
# what runs ("name pid" per line) while the fleet is up.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
ME=fleet
. "$ROOT/scripts/lib.sh"

BIN=${USD_BIN:-build/update-sessiond}
DIR=${USD_FLEET_DIR:-$ROOT/var/fleet}
HAPROXY=${USD_HAPROXY:-/usr/sbin/haproxy}
DRAIN_MS=${USD_FLEET_DRAIN_MS:-3000}
CHECK_INTER=500ms
MASTER=usd
HAPROXY_CFG=$ROOT/scripts/examples/haproxy.cfg

need_cmd redis-server redis-cli openssl curl python3
[ -x "$HAPROXY" ] || die "$HAPROXY is missing (make deps installs Debian's haproxy)"
case "$DRAIN_MS" in '' | *[!0-9]*) die "USD_FLEET_DRAIN_MS must be a number of ms, not '$DRAIN_MS'" ;; esac
if [ ! -x "$BIN" ]; then
    [ -z "${USD_BIN:-}" ] || die "USD_BIN=$BIN is not an executable"
    make --no-print-directory all
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -f "$DIR/fleet.pid" ] && alive "$(cat "$DIR/fleet.pid")"; then
    die "another fleet.sh (pid $(cat "$DIR/fleet.pid")) runs in $DIR"
fi
echo $$ >"$DIR/fleet.pid"
mkdir -p "$DIR/storage" "$DIR/redis/primary" "$DIR/redis/replica"

# 12 free ports: haproxy, 3 listen, 3 admin, 2 Redis, 3 sentinels.
mapfile -t PORTS < <(free_ports 12)
[ "${#PORTS[@]}" -eq 12 ] || die "could not find free ports"
FRONT=${USD_FLEET_PORT:-${PORTS[0]}}
case "$FRONT" in '' | *[!0-9]*) die "USD_FLEET_PORT must be a port number, not '$FRONT'" ;; esac
LISTEN_PORT=("${PORTS[@]:1:3}")
ADMIN_PORT=("${PORTS[@]:4:3}")
REDIS_PORT=("${PORTS[@]:7:2}")
SENTINEL_PORT=("${PORTS[@]:9:3}")
URL="http://127.0.0.1:$FRONT"

REDIS_PID=("" "")
SENTINEL_PID=("" "" "")
USD_PID=("" "" "")
USD_STARTED=(0 0 0)
HAPROXY_PID=""
SLEEP_PID=""
STOPPING=0

# write_pids: $DIR/pids, one "name pid" line per running process.
write_pids() {
    {
        echo "redis-primary ${REDIS_PID[0]}"
        echo "redis-replica ${REDIS_PID[1]}"
        for i in 0 1 2; do echo "sentinel$((i + 1)) ${SENTINEL_PID[i]}"; done
        for i in 0 1 2; do echo "usd$((i + 1)) ${USD_PID[i]}"; done
        echo "haproxy $HAPROXY_PID"
    } | awk 'NF == 2' >"$DIR/pids"
}

# Stops everything, front to back: haproxy, the instances (SIGINT: at once, no drain), the
# sentinels (before the primary goes, so they do not fail it over), the replica, the primary.
stop_all() {
    [ "$STOPPING" = 1 ] && return
    STOPPING=1
    trap '' INT TERM # a second Ctrl-C must not cut the stop short
    if [ -n "$SLEEP_PID" ]; then kill "$SLEEP_PID" 2>/dev/null || true; fi
    stop_process "$HAPROXY_PID" haproxy TERM
    echo "$ME: stopping the instances (pids ${USD_PID[*]})" >&2
    for i in 0 1 2; do
        if [ -n "${USD_PID[i]}" ]; then kill -INT "${USD_PID[i]}" 2>/dev/null || true; fi
    done
    for i in 0 1 2; do stop_process "${USD_PID[i]}" "usd$((i + 1))" INT; done
    for i in 0 1 2; do stop_process "${SENTINEL_PID[i]}" "sentinel$((i + 1))" TERM; done
    stop_process "${REDIS_PID[1]}" redis-replica TERM 30
    stop_process "${REDIS_PID[0]}" redis-primary TERM 30
    if [ -n "$SLEEP_PID" ]; then wait "$SLEEP_PID" 2>/dev/null || true; fi
    rm -f "$DIR/pids" "$DIR/fleet.pid"
    echo "$ME: stopped"
}
on_signal() {
    stop_all
    exit 0
}
trap on_signal INT TERM
trap stop_all EXIT

# start_redis I NAME ARGS...: a Redis data node (config from scripts/redis.conf) on
# REDIS_PORT[I], data in $DIR/redis/NAME, extra config ARGS on the command line.
start_redis() {
    local i=$1 d=$DIR/redis/$2
    shift 2
    if redis_in_use "${REDIS_PORT[i]}"; then die "something answers on port ${REDIS_PORT[i]} already"; fi
    render_redis_conf "${REDIS_PORT[i]}" "$d" "$d/redis.conf"
    $DETACH redis-server "$d/redis.conf" --repl-diskless-sync-delay 0 "$@" \
        </dev/null >/dev/null 2>&1 &
    REDIS_PID[i]=$!
    write_pids
    wait_redis "${REDIS_PORT[i]}" "${REDIS_PID[i]}" "$d/redis.log"
}

# start_sentinel I: sentinel I+1 (redis-server FILE --sentinel) watching the primary. Its
# config is written anew at every start (Sentinel rewrites it as it learns the layout).
start_sentinel() {
    local i=$1 d=$DIR/sentinel$(($1 + 1))
    mkdir -p "$d"
    cat >"$d/sentinel.conf" <<EOT
port ${SENTINEL_PORT[i]}
bind 127.0.0.1
daemonize no
dir "$d"
logfile "$d/sentinel.log"
sentinel monitor $MASTER 127.0.0.1 ${REDIS_PORT[0]} 2
sentinel down-after-milliseconds $MASTER 3000
sentinel failover-timeout $MASTER 10000
EOT
    $DETACH redis-server "$d/sentinel.conf" --sentinel </dev/null >/dev/null 2>&1 &
    SENTINEL_PID[i]=$!
    write_pids
    wait_redis "${SENTINEL_PORT[i]}" "${SENTINEL_PID[i]}" "$d/sentinel.log"
}

SENTINELS=$(printf '127.0.0.1:%s,' "${SENTINEL_PORT[@]}")
SENTINEL_URL="sentinel://${SENTINELS%,}/$MASTER"

# start_instance I: instance I+1 on LISTEN_PORT[I] and ADMIN_PORT[I]; upload URIs point at
# haproxy (--public-url): every instance can serve every upload, the storage being shared.
start_instance() {
    local i=$1
    $DETACH "$BIN" --listen "127.0.0.1:${LISTEN_PORT[i]}" \
        --admin-listen "127.0.0.1:${ADMIN_PORT[i]}" --redis "$SENTINEL_URL" \
        --storage-dir "$DIR/storage" --users-file "$DIR/users" --public-url "$URL" \
        --drain-ms "$DRAIN_MS" </dev/null >>"$DIR/usd$((i + 1)).log" 2>&1 &
    USD_PID[i]=$!
    USD_STARTED[i]=$SECONDS
    write_pids
}

# 1. Redis: the primary, then its replica, linked before the sentinels start (so their first
# look at the primary already lists the replica).
start_redis 0 primary
start_redis 1 replica --replicaof 127.0.0.1 "${REDIS_PORT[0]}"
n=0
until redis-cli -p "${REDIS_PORT[1]}" info replication 2>/dev/null | grep -q '^master_link_status:up'; do
    n=$((n + 1))
    [ "$n" -le 100 ] || die "the replica did not link to the primary within 10 s; see $DIR/redis/replica/redis.log"
    sleep 0.1
done

# 2. Three sentinels (quorum 2).
for i in 0 1 2; do start_sentinel "$i"; done

# 3. The admin user (as `make run` makes it) and the instances.
ensure_admin_user "$DIR"
for i in 0 1 2; do start_instance "$i"; done
for i in 0 1 2; do
    wait_http "http://127.0.0.1:${ADMIN_PORT[i]}/readyz" "${USD_PID[i]}" "usd$((i + 1))" 30 || {
        tail -n 20 "$DIR/usd$((i + 1)).log" >&2
        die "usd$((i + 1)) is not ready; see $DIR/usd$((i + 1)).log"
    }
done

# 4. haproxy on the shipped example; the environment fills in its addresses.
export USD_FRONTEND="127.0.0.1:$FRONT" USD_CHECK_INTER=$CHECK_INTER \
    USD_HAPROXY_SOCK="$DIR/haproxy.sock" USD_HAPROXY_LOG=stdout
for i in 0 1 2; do
    export "USD_$((i + 1))=127.0.0.1:${LISTEN_PORT[i]}" "USD_$((i + 1))_ADMIN=${ADMIN_PORT[i]}"
done
"$HAPROXY" -c -q -f "$HAPROXY_CFG" || die "haproxy refuses $HAPROXY_CFG"
$DETACH "$HAPROXY" -db -f "$HAPROXY_CFG" </dev/null >>"$DIR/haproxy.log" 2>&1 &
HAPROXY_PID=$!
write_pids
# Through haproxy to an instance: an API request without a login is 401.
wait_http "$URL/api/session" "$HAPROXY_PID" haproxy 10 401 || {
    tail -n 20 "$DIR/haproxy.log" >&2
    die "haproxy does not pass requests on; see $DIR/haproxy.log"
}

cat <<EOT

update-sessiond fleet running at $URL  (haproxy -> 3 instances; state in $DIR)
Login: admin / $PASS

  TOKEN=\$(curl -s -X POST -u 'admin:$PASS' $URL/api/session | tr -d '"')
  curl -s -H "vmware-api-session-id: \$TOKEN" $URL/api/content/library

  haproxy      pid $HAPROXY_PID  $URL   stats: $DIR/haproxy.sock, log: $DIR/haproxy.log
EOT
for i in 0 1 2; do
    printf '  usd%d         pid %s  127.0.0.1:%s  admin http://127.0.0.1:%s/readyz /metrics  log %s\n' \
        $((i + 1)) "${USD_PID[i]}" "${LISTEN_PORT[i]}" "${ADMIN_PORT[i]}" "$DIR/usd$((i + 1)).log"
done
cat <<EOT
  redis        pid ${REDIS_PID[0]} (primary, 127.0.0.1:${REDIS_PORT[0]}), ${REDIS_PID[1]} (replica, 127.0.0.1:${REDIS_PORT[1]})
  sentinels    pids ${SENTINEL_PID[*]}  ($SENTINEL_URL)

Rolling restart: kill -TERM an instance's pid; it drains for ${DRAIN_MS} ms (haproxy takes it out
within 1 s), exits, and is started again here. Failover: kill -9 the primary's pid.
Press Ctrl-C to stop everything.
EOT

# 5. Watch: restart an instance that exited (after its first 5 s), report anything else that
# stops. A signal interrupts the wait and runs on_signal.
REPORTED=""
while :; do
    sleep 1 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" || true
    SLEEP_PID=""
    for i in 0 1 2; do
        pid=${USD_PID[i]}
        if [ -z "$pid" ] || alive "$pid"; then continue; fi
        rc=0
        wait "$pid" || rc=$?
        USD_PID[i]=""
        ran=$((SECONDS - USD_STARTED[i]))
        if [ "$ran" -ge 5 ]; then
            echo "$ME: usd$((i + 1)) (pid $pid) exited with $rc after ${ran} s; starting it again"
            start_instance "$i"
        else
            echo "$ME: usd$((i + 1)) (pid $pid) exited with $rc ${ran} s after its start; left down (see $DIR/usd$((i + 1)).log)" >&2
            write_pids
        fi
    done
    for entry in "haproxy $HAPROXY_PID" "redis-primary ${REDIS_PID[0]}" \
        "redis-replica ${REDIS_PID[1]}" "sentinel1 ${SENTINEL_PID[0]}" \
        "sentinel2 ${SENTINEL_PID[1]}" "sentinel3 ${SENTINEL_PID[2]}"; do
        name=${entry% *}
        pid=${entry#* }
        case " $REPORTED " in *" $pid "*) continue ;; esac
        if [ -n "$pid" ] && ! alive "$pid"; then
            echo "$ME: $name (pid $pid) exited" >&2
            REPORTED="$REPORTED $pid"
        fi
    done
done
