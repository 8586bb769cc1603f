#!/bin/sh
# scripts/run.sh: `make run`. Starts a Redis of our own (AOF on, config from scripts/redis.conf,
# data in var/redis) and update-sessiond (already built at build/update-sessiond) in the
# foreground, prints the admin login and a few curl examples. Ctrl-C stops both.
#
# Environment: USD_LISTEN (default 127.0.0.1:8080), USD_REDIS_PORT (default 6380).
# State lives in var/ (git-ignored): var/redis/ (Redis data, log, config), var/storage/
# (library files), var/users (the users file) and var/admin-password.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

LISTEN=${USD_LISTEN:-127.0.0.1:8080}
RPORT=${USD_REDIS_PORT:-6380}
BIN=build/update-sessiond
VAR=$ROOT/var
RDIR=$VAR/redis

ME=run
. "$ROOT/scripts/lib.sh"

[ -x "$BIN" ] || die "$BIN is missing; build it with 'make all' (or use 'make run')"
need_cmd redis-server redis-cli openssl curl
case "$RPORT" in *[!0-9]*|'') die "USD_REDIS_PORT must be a port number, not '$RPORT'";; esac
case "$LISTEN" in *:*) ;; *) die "USD_LISTEN must be HOST:PORT, not '$LISTEN'";; esac

HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
case "$HOST" in ''|0.0.0.0|'*') CHOST=127.0.0.1 ;; '[::]') CHOST='[::1]' ;; *) CHOST=$HOST ;; esac
URL="http://$CHOST:$PORT"

mkdir -p "$RDIR" "$VAR/storage"

# Our own Redis, never the system one: refuse a port something else already answers on.
if redis_in_use "$RPORT"; then
    die "something already answers on Redis port $RPORT (a system Redis, or a run.sh still running?); set USD_REDIS_PORT to a free port"
fi

render_redis_conf "$RPORT" "$RDIR" "$RDIR/redis.conf"

REDIS_PID=""
SERVER_PID=""
STOPPING=0

stop_all() {
    [ "$STOPPING" = 1 ] && return
    STOPPING=1
    # SIGINT: at once (SIGTERM drains for --drain-ms); Redis saves on SIGTERM
    stop_process "$SERVER_PID" update-sessiond INT 10
    stop_process "$REDIS_PID" redis-server TERM 30
}
on_signal() { stop_all; exit 0; }
trap on_signal INT TERM
trap stop_all EXIT

# The children run in their own session (lib.sh: DETACH), so a Ctrl-C on the terminal reaches
# only this script, which then stops them in order: server first, then Redis.
$DETACH redis-server "$RDIR/redis.conf" </dev/null >/dev/null 2>&1 &
REDIS_PID=$!
wait_redis "$RPORT" "$REDIS_PID" "$RDIR/redis.log"

# The admin user, made once: a random password, stored SHA-512-crypt hashed in var/users.
ensure_admin_user "$VAR"

$DETACH "$BIN" --listen "$LISTEN" --redis "127.0.0.1:$RPORT" --storage-dir "$VAR/storage" \
    --users-file "$VAR/users" </dev/null &
SERVER_PID=$!

# Wait until it accepts connections (or exits).
i=0
until curl -s -o /dev/null --max-time 1 "$URL/api/session" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        wait "$SERVER_PID" && rc=0 || rc=$?
        SERVER_PID=""
        die "update-sessiond exited with $rc during start-up"
    fi
    i=$((i + 1))
    [ "$i" -le 100 ] || { echo "run: update-sessiond is not answering on $URL yet" >&2; break; }
    sleep 0.1
done

cat <<EOT

update-sessiond is running at $URL  (Redis on 127.0.0.1:$RPORT, data in var/)
Login: admin / $PASS

Try it:
  TOKEN=\$(curl -s -X POST -u 'admin:$PASS' $URL/api/session | tr -d '"')
  H="vmware-api-session-id: \$TOKEN"
  LIB=\$(curl -s -H "\$H" -H 'Content-Type: application/json' -X POST $URL/api/content/local-library \\
        -d '{"name":"try-lib","storage_backings":[{"type":"OTHER","storage_uri":"file:///tmp"}]}' | tr -d '"')
  ITEM=\$(curl -s -H "\$H" -H 'Content-Type: application/json' -X POST $URL/api/content/library/item \\
        -d "{\\"library_id\\":\\"\$LIB\\",\\"name\\":\\"item1\\",\\"type\\":\\"\\"}" | tr -d '"')
  SID=\$(curl -s -H "\$H" -H 'Content-Type: application/json' -X POST $URL/api/content/library/item/update-session \\
        -d "{\\"library_item_id\\":\\"\$ITEM\\"}" | tr -d '"')
  curl -s -H "\$H" $URL/api/content/library/item/update-session/\$SID

Press Ctrl-C to stop.
EOT

# Wait for the server; a signal interrupts the wait and runs on_signal.
rc=0
wait "$SERVER_PID" || rc=$?
if [ "$STOPPING" = 0 ]; then
    SERVER_PID=""
    echo "run: update-sessiond exited with $rc" >&2
    stop_all
    exit "$rc"
fi
