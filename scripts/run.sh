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

die() { echo "run: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "$BIN is missing; build it with 'make all' (or use 'make run')"
command -v redis-server >/dev/null 2>&1 || die "redis-server is not installed (make deps)"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli is not installed (make deps)"
case "$RPORT" in *[!0-9]*|'') die "USD_REDIS_PORT must be a port number, not '$RPORT'";; esac
case "$LISTEN" in *:*) ;; *) die "USD_LISTEN must be HOST:PORT, not '$LISTEN'";; esac

HOST=${LISTEN%:*}
PORT=${LISTEN##*:}
case "$HOST" in ''|0.0.0.0|'*') CHOST=127.0.0.1 ;; '[::]') CHOST='[::1]' ;; *) CHOST=$HOST ;; esac
URL="http://$CHOST:$PORT"

mkdir -p "$RDIR" "$VAR/storage"

# Our own Redis, never the system one: refuse a port something else already answers on.
if redis-cli -p "$RPORT" ping >/dev/null 2>&1; then
    die "something already answers on Redis port $RPORT (a system Redis, or a run.sh still running?); set USD_REDIS_PORT to a free port"
fi

# Redis config from the template. sed replacement text: escape \, & and the | delimiter.
esc=$(printf '%s' "$RDIR" | sed -e 's/[\\&|]/\\&/g')
sed -e "s|@PORT@|$RPORT|g" -e "s|@DIR@|$esc|g" scripts/redis.conf > "$RDIR/redis.conf"

REDIS_PID=""
SERVER_PID=""
STOPPING=0

stop_all() {
    [ "$STOPPING" = 1 ] && return
    STOPPING=1
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "run: stopping update-sessiond" >&2
        kill -INT "$SERVER_PID" 2>/dev/null || true # at once: SIGTERM drains for --drain-ms
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        echo "run: stopping redis-server" >&2
        redis-cli -p "$RPORT" shutdown >/dev/null 2>&1 || kill -TERM "$REDIS_PID" 2>/dev/null || true
        wait "$REDIS_PID" 2>/dev/null || true
    fi
}
on_signal() { stop_all; exit 0; }
trap on_signal INT TERM
trap stop_all EXIT

# The children run in their own session (setsid), so a Ctrl-C on the terminal reaches only
# this script, which then stops them in order: server first, then Redis.
DETACH=""
command -v setsid >/dev/null 2>&1 && DETACH=setsid

$DETACH redis-server "$RDIR/redis.conf" </dev/null >/dev/null 2>&1 &
REDIS_PID=$!
i=0
until [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ]; do
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited; see $RDIR/redis.log"
    i=$((i + 1))
    [ "$i" -le 100 ] || die "redis-server did not answer on port $RPORT within 10 s; see $RDIR/redis.log"
    sleep 0.1
done

# The admin user, made once: a random password, stored SHA-512-crypt hashed in var/users.
if [ ! -f "$VAR/users" ]; then
    old_umask=$(umask)
    umask 077
    PASS=$(openssl rand -hex 12) # hex: safe in URLs (GOVC_URL) and shells
    HASH=$(printf '%s\n' "$PASS" | openssl passwd -6 -stdin)
    printf 'admin:%s:*\n' "$HASH" > "$VAR/users"
    printf '%s\n' "$PASS" > "$VAR/admin-password"
    chmod 600 "$VAR/users" "$VAR/admin-password"
    umask "$old_umask"
    echo "run: created var/users with user admin (password saved in var/admin-password)"
fi
PASS=$(cat "$VAR/admin-password" 2>/dev/null || echo '<see var/users: password file missing>')

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
