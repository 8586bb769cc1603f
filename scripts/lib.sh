# scripts/lib.sh: the shell functions `make run` (scripts/run.sh) and `make fleet`
# (scripts/fleet.sh) share: messages, the Redis config from the template scripts/redis.conf,
# waiting for a Redis or an HTTP endpoint, the admin user and its password, free ports, and
# stopping a child process with a bounded wait. Sourced, not run (POSIX sh, so both sh and
# bash scripts can source it):
#
#     ME=run                                    # names the messages
#     . "$ROOT/scripts/lib.sh"
#
# Every wait here has a limit. Paths are the caller's (it cds to the top of the tree first).
# shellcheck shell=sh
# shellcheck disable=SC2034 # DETACH, PASS: for the sourcing script

die() {
    echo "$ME: $*" >&2
    exit 1
}

# need_cmd TOOL...: dies unless every TOOL is installed.
need_cmd() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (make deps)"
    done
}

# The children run in their own session (setsid), so a Ctrl-C on the terminal reaches only the
# script, which then stops them in its own order. (In a non-interactive shell a background job
# is not a process group leader, so setsid execs the program itself and $! is its pid.)
DETACH=""
command -v setsid >/dev/null 2>&1 && DETACH=setsid

# alive PID: the process runs (a zombie, exited but not yet waited for, does not count).
alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || state=""
    [ "$state" != Z ]
}

# stop_process PID NAME SIGNAL [SECONDS]: sends SIGNAL, waits up to SECONDS (default 10) for
# the exit, then SIGKILL; reaps the child. Says nothing when PID is empty or already gone.
stop_process() {
    [ -n "$1" ] || return 0
    if alive "$1"; then
        echo "$ME: stopping $2 (pid $1)" >&2
        kill "-$3" "$1" 2>/dev/null || true
        n=0
        while alive "$1" && [ "$n" -lt $((${4:-10} * 10)) ]; do
            sleep 0.1
            n=$((n + 1))
        done
        if alive "$1"; then
            echo "$ME: $2 (pid $1) did not stop within ${4:-10} s; killing it" >&2
            kill -KILL "$1" 2>/dev/null || true
        fi
    fi
    wait "$1" 2>/dev/null || true
}

# free_ports N: N distinct TCP ports free on 127.0.0.1 a moment ago, one a line.
free_ports() {
    python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()' "$1"
}

# render_redis_conf PORT DIR OUT: the Redis config from scripts/redis.conf (AOF on, loopback,
# noeviction) for a server on PORT keeping its data, log and pid file in DIR.
render_redis_conf() {
    # sed replacement text: escape \, & and the | delimiter.
    esc=$(printf '%s' "$2" | sed -e 's/[\\&|]/\\&/g')
    sed -e "s|@PORT@|$1|g" -e "s|@DIR@|$esc|g" scripts/redis.conf >"$3"
}

# redis_in_use PORT: something answers PING on PORT.
redis_in_use() {
    redis-cli -p "$1" ping >/dev/null 2>&1
}

# wait_redis PORT PID LOG: until the redis-server (or sentinel) PID answers PING on PORT
# (10 s at most); dies naming LOG if it exits or stays silent.
wait_redis() {
    n=0
    until [ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; do
        alive "$2" || die "redis-server on port $1 exited; see $3"
        n=$((n + 1))
        [ "$n" -le 100 ] || die "redis-server did not answer on port $1 within 10 s; see $3"
        sleep 0.1
    done
}

# wait_http URL PID NAME [SECONDS] [STATUS]: until a GET of URL answers STATUS (default 200)
# within SECONDS (default 10); returns 1 (with a message) if PID exits first or time is up.
wait_http() {
    n=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" 2>/dev/null)" = "${5:-200}" ]; do
        if ! alive "$2"; then
            echo "$ME: $3 exited during start-up" >&2
            return 1
        fi
        n=$((n + 1))
        if [ "$n" -gt $((${4:-10} * 10)) ]; then
            echo "$ME: $3 does not answer $1 with ${5:-200} within ${4:-10} s" >&2
            return 1
        fi
        sleep 0.1
    done
}

# ensure_admin_user DIR: DIR/users with the user admin (all privileges) and its password in
# DIR/admin-password, made once (a random password, stored SHA-512-crypt hashed); sets PASS.
ensure_admin_user() {
    if [ ! -f "$1/users" ]; then
        old_umask=$(umask)
        umask 077
        PASS=$(openssl rand -hex 12) # hex: safe in URLs (GOVC_URL) and shells
        HASH=$(printf '%s\n' "$PASS" | openssl passwd -6 -stdin)
        printf 'admin:%s:*\n' "$HASH" >"$1/users"
        printf '%s\n' "$PASS" >"$1/admin-password"
        chmod 600 "$1/users" "$1/admin-password"
        umask "$old_umask"
        echo "$ME: created $1/users with user admin (password saved in $1/admin-password)"
    fi
    PASS=$(cat "$1/admin-password" 2>/dev/null || echo "<see $1/users: password file missing>")
}
