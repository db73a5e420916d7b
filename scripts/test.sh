#!/usr/bin/env bash
# The README's test command (`make test`, called by .ci/run), after `make build`:
#   1. the whole suite on SQLite;
#      (schemathesis comes from PyPI into /tmp/crescent-schemathesis, installed by its test);
#   2. the store suite and the integration tests again on a throw-away PostgreSQL cluster
#      (scripts/pg-cluster.sh, in a temporary folder on a free loopback port), stopped at the
#      end whatever happens;
#   3. the multi-host tests (MultiHostTests: three network namespaces and a PostgreSQL server of
#      their own), once, on their own (they need the machine's CPU for their timings to hold).
# When PostgreSQL cannot be installed or started, says why and runs the SQLite pass only.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}

have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null; }

# Debian's postgresql (15 on bookworm), installed when missing.
postgres_missing=""
if ! have_postgres; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test: installing postgresql"
        if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/tmp/crescent-apt.log 2>&1 \
               || { apt-get update -q >>/tmp/crescent-apt.log 2>&1 \
                    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >>/tmp/crescent-apt.log 2>&1; }; }; then
            postgres_missing="apt-get install postgresql failed: $(tail -1 /tmp/crescent-apt.log)"
        fi
    else
        postgres_missing="PostgreSQL is not installed and this user cannot install it (run as root, or apt-get install postgresql)"
    fi
    have_postgres || postgres_missing=${postgres_missing:-"postgresql installed, but no initdb found under /usr/lib/postgresql"}
fi

# Debian tools some tests drive (each test says why it is skipped when its tool is missing):
# command → package. Installed only when missing, and only when this user can.
tool_packages="ip:iproute2 luacheck:lua-check promtool:prometheus supervisord:supervisor systemd-analyze:systemd chromium:chromium"
missing_packages=""
for entry in $tool_packages; do
    command -v "${entry%%:*}" >/dev/null || missing_packages="$missing_packages ${entry##*:}"
done
if [ -n "$missing_packages" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "test: installing$missing_packages"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing_packages >/tmp/crescent-apt-tools.log 2>&1 \
            || { apt-get update -q >>/tmp/crescent-apt-tools.log 2>&1 \
                 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing_packages >>/tmp/crescent-apt-tools.log 2>&1; } \
            || echo "test: could not install$missing_packages (see /tmp/crescent-apt-tools.log); their tests say they are skipped"
    else
        echo "test: not installed:$missing_packages (run as root, or apt-get install them); their tests say they are skipped"
    fi
fi

cluster=""
cleanup() {
    if [ -n "$cluster" ]; then scripts/pg-cluster.sh stop "$cluster"; cluster=""; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

url=""
if [ -z "$postgres_missing" ]; then
    cluster=$(mktemp -d /tmp/crescent-pg-XXXXXX)
    if ! url=$(scripts/pg-cluster.sh start "$cluster" "$(free_port)"); then
        postgres_missing="the throw-away PostgreSQL cluster did not start (see above)"
        url=""
        cleanup
    fi
fi

status=0
echo "== tests on SQLite"
$SWIFT test --skip MultiHostTests || status=1

if [ -n "$url" ]; then
    echo "== store and integration tests on PostgreSQL ($url)"
    CRESCENT_TEST_STORE=postgres CRESCENT_TEST_POSTGRES_URL="$url" \
        $SWIFT test --skip-build --filter 'CrescentStoreTests|IntegrationTests' --skip MultiHostTests || status=1
else
    echo "== tests on PostgreSQL skipped: $postgres_missing"
fi

if have_postgres; then
    echo "== multi-host tests (network namespaces, a PostgreSQL server of their own)"
    $SWIFT test --skip-build --filter MultiHostTests || status=1
else
    echo "== multi-host tests skipped: ${postgres_missing:-PostgreSQL is not installed}"
fi
exit $status
