#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for Crescent's tests and benchmarks.
#
#   scripts/pg-cluster.sh start DIR PORT [ADDRS [NET]]
#                                          initdb in DIR (owned by the `postgres` user), start it on
#                                          127.0.0.1:PORT, create the test database; prints the URL.
#                                          ADDRS: more addresses to listen on (comma-separated), NET:
#                                          a client network (CIDR) allowed in with the password
#   scripts/pg-cluster.sh stop DIR         stop it and remove DIR
#   scripts/pg-cluster.sh down DIR         stop the server (fast shutdown), keep DIR
#   scripts/pg-cluster.sh up DIR           start the server in DIR again, on the same port
#
# Run as root, the server runs as the `postgres` user; run as anyone else, as that user.
#
# The server listens on loopback only (and on ADDRS when given: the multi-host tests' veth
# ends). Password authentication (scram-sha-256) is on for TCP, so
# the tests can check a wrong password; the superuser `postgres` has the password `crescent-test`.
set -euo pipefail
cmd=${1:?usage: pg-cluster.sh start DIR PORT | stop DIR | down DIR | up DIR}
dir=${2:?cluster folder}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "pg-cluster: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_postgres() {
    if [ "$(id -u)" != 0 ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# Starts the server in $dir on 127.0.0.1:$1 and waits until it accepts connections. pg_ctl's
# output goes to files: the server it starts must not hold the caller's pipes open.
serve() {
    if ! as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=$(cat "$dir/listen") -c port=$1 -c unix_socket_directories=$dir -c max_connections=300 -c fsync=on -c synchronous_commit=on" \
        </dev/null >"$dir/pg_ctl.out" 2>&1; then
        cat "$dir/pg_ctl.out" >&2; tail -20 "$dir/server.log" >&2; exit 1
    fi
}

case "$cmd" in
start)
    port=${3:?port}
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres:postgres "$dir"
    chmod 700 "$dir"
    pwfile=$(mktemp); echo crescent-test > "$pwfile"; chmod 644 "$pwfile"
    as_postgres "$bin/initdb" -D "$dir/data" -U postgres --pwfile="$pwfile" -A scram-sha-256 \
        --auth-local=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; rm -f "$pwfile"; exit 1; }
    rm -f "$pwfile"
    echo "$port" > "$dir/port"
    echo "127.0.0.1${4:+,$4}" > "$dir/listen"
    if [ -n "${5:-}" ]; then
        echo "host all all $5 scram-sha-256" >> "$dir/data/pg_hba.conf"
    fi
    serve "$port"
    as_postgres "$bin/psql" -h "$dir" -p "$port" -U postgres -qc "CREATE DATABASE crescent_test" >/dev/null
    echo "postgres://postgres:crescent-test@127.0.0.1:$port/crescent_test"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_postgres "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
down)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    ;;
up)
    serve "$(cat "$dir/port")"
    ;;
*)
    echo "pg-cluster: unknown command $cmd" >&2; exit 2 ;;
esac
