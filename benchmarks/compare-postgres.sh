#!/usr/bin/env bash
# Crescent against PostgreSQL-backed job queues, on one PostgreSQL server: each system drains
# N pre-enqueued no-op jobs; the script prints each rate (median of the runs) and Crescent's
# ratio to each and to the best of the others. A documented benchmark, not part of the tests.
#
#   benchmarks/compare-postgres.sh [--jobs N] [--runs K] [--database URL] [--crescent PATH]
#                                  [--procrastinate-jobs M] [--no-procrastinate] [--venv DIR]
#
#   --jobs N        jobs per drain (default 20000; at most 100000, what `crescent bench` takes)
#   --runs K        runs of each system, interleaved; the medians are printed (default 3)
#   --database URL  a postgres:// URL to use (default: $CRESCENT_BENCH_DATABASE, else a
#                   throw-away cluster from scripts/pg-cluster.sh on a free loopback port,
#                   stopped and removed at the end, also on failure or Ctrl-C). Crescent works
#                   in a fresh schema of that database; each peer run in a fresh database
#                   created on that server (so the URL's user needs CREATEDB), dropped after.
#   --crescent PATH the binary (default .build/release/crescent: `swift build -c release`)
#   --procrastinate-jobs M  jobs per Procrastinate drain (default N/10, at least 1): it makes
#                   several round trips per job, so it is much the slowest, and this keeps one
#                   invocation to a few minutes
#   --no-procrastinate      skip Procrastinate
#   --venv DIR      the Python virtual environment for the peers (default /tmp/crescent-peer-venv;
#                   created, and pgqueuer, asyncpg, uvloop, procrastinate, psycopg installed
#                   from PyPI, when missing)
#
# What runs (all against the same server, one system at a time):
# - Crescent: `crescent bench --database URL --jobs N --threads 2` (queue concurrency 1000,
#   a run row per attempt, Lua handler called); its `drain:` rate, runner start-up included.
# - PGQueuer: benchmarks/peer-drain.py with PGQueuer's own benchmark settings (asyncpg driver,
#   uvloop, 5 dequeue tasks with a batch size of 10 per process), 2 worker processes.
# - Procrastinate: benchmarks/peer-drain.py, `run_worker_async(concurrency=10, wait=False)`
#   in each of 2 worker processes; skipped, with the reason, if it does not install.
# The peers' figures leave out their workers' start-up (they are released together once
# connected); Crescent's include its runner's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=20000
runs=3
database=${CRESCENT_BENCH_DATABASE:-}
crescent=$root/.build/release/crescent
venv=/tmp/crescent-peer-venv
procrastinate=yes
procrastinate_jobs=""

usage() { sed -n '6,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
value() { [ $# -ge 2 ] && [ -n "$2" ] || { echo "compare-postgres: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
    case "$1" in
    --jobs) value "$@"; jobs=$2; shift 2 ;;
    --runs) value "$@"; runs=$2; shift 2 ;;
    --database) value "$@"; database=$2; shift 2 ;;
    --crescent) value "$@"; crescent=$2; shift 2 ;;
    --venv) value "$@"; venv=$2; shift 2 ;;
    --procrastinate-jobs) value "$@"; procrastinate_jobs=$2; shift 2 ;;
    --no-procrastinate) procrastinate=no; shift ;;
    -h|--help) usage ;;
    *) echo "compare-postgres: unknown argument $1" >&2; usage ;;
    esac
done
positive() {
    [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le "$3" ] \
        || { echo "compare-postgres: $1 must be a whole number from 1 to $3, not '$2'" >&2; exit 2; }
}
positive --jobs "$jobs" 100000
positive --runs "$runs" 99
procrastinate_jobs=${procrastinate_jobs:-$(( jobs / 10 > 0 ? jobs / 10 : 1 ))}
positive --procrastinate-jobs "$procrastinate_jobs" 100000
[ -x "$crescent" ] || { echo "compare-postgres: $crescent not found: build it with 'swift build -c release' or pass --crescent" >&2; exit 2; }
crescent=$(cd "$(dirname "$crescent")" && pwd)/$(basename "$crescent")
if [ -n "$database" ] && [[ ! $database =~ ^postgres(ql)?:// ]]; then
    echo "compare-postgres: --database must be a postgres:// URL, not '$database'" >&2; exit 2
fi

# The peers, from PyPI, in their own virtual environment.
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { echo "compare-postgres: cannot create a virtual environment in $venv" >&2; exit 1; }
fi
py=$venv/bin/python
if ! "$py" -c 'import pgqueuer, asyncpg, uvloop' 2>/dev/null; then
    echo "compare-postgres: installing pgqueuer, asyncpg, uvloop into $venv" >&2
    "$py" -m pip install -q pgqueuer asyncpg uvloop >&2 \
        || { echo "compare-postgres: pip install pgqueuer asyncpg uvloop failed" >&2; exit 1; }
fi
skip_procrastinate=""
if [ "$procrastinate" = no ]; then
    skip_procrastinate="--no-procrastinate"
elif ! "$py" -c 'import procrastinate, psycopg' 2>/dev/null; then
    echo "compare-postgres: installing procrastinate, psycopg into $venv" >&2
    if ! "$py" -m pip install -q procrastinate 'psycopg[binary]' >"$venv/procrastinate-install.log" 2>&1; then
        skip_procrastinate="pip install procrastinate failed: $(tail -1 "$venv/procrastinate-install.log")"
    fi
fi
version() { "$py" -c "import importlib.metadata as m; print(m.version('$1'))"; }

# The server: the one given, or a throw-away cluster.
cluster=""
work=$(mktemp -d /tmp/crescent-compare-XXXXXX)
cleanup() {
    if [ -n "$cluster" ]; then "$root/scripts/pg-cluster.sh" stop "$cluster"; cluster=""; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
if [ -z "$database" ]; then
    cluster=$(mktemp -d /tmp/crescent-compare-pg-XXXXXX)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    database=$("$root/scripts/pg-cluster.sh" start "$cluster" "$port") \
        || { echo "compare-postgres: the throw-away PostgreSQL cluster did not start" >&2; exit 1; }
    where="a throw-away cluster on 127.0.0.1:$port"
else
    where="the server of the given URL"
fi
server=$("$py" - "$database" <<'PY'
import asyncio, sys
import asyncpg
async def main():
    connection = await asyncpg.connect(dsn=sys.argv[1].split("?")[0])  # without Crescent's ?schema=
    try:
        print(await connection.fetchval("SHOW server_version"),
              "synchronous_commit=" + await connection.fetchval("SHOW synchronous_commit"),
              "fsync=" + await connection.fetchval("SHOW fsync"))
    finally:
        await connection.close()
asyncio.run(main())
PY
) || { echo "compare-postgres: cannot connect to the database" >&2; exit 1; }

echo "compare-postgres: $jobs no-op jobs per drain, $runs runs each, PostgreSQL $server ($where), $(nproc) cores"
echo "  crescent:      ${crescent#"$root"/} bench --threads 2 (queue concurrency 1000)"
echo "  pgqueuer:      $(version pgqueuer), asyncpg $(version asyncpg), 2 processes x 5 dequeue tasks, batch size 10"
if [ -z "$skip_procrastinate" ]; then
    echo "  procrastinate: $(version procrastinate), psycopg $(version psycopg), 2 processes x concurrency 10, $procrastinate_jobs jobs"
elif [ "$skip_procrastinate" = --no-procrastinate ]; then
    echo "  procrastinate: skipped (--no-procrastinate)"
else
    echo "  procrastinate: skipped ($skip_procrastinate)"
fi

# Runs, interleaved so that the machine's load weighs on every system alike.
for run in $(seq 1 "$runs"); do
    out=$(cd "$work" && "$crescent" bench --database "$database" --jobs "$jobs" --threads 2 \
          --latency-jobs 0 --process-jobs 0 2>&1) \
        || { echo "$out" >&2; echo "compare-postgres: crescent bench failed" >&2; exit 1; }
    rate=$(echo "$out" | awk '/^drain:/ { print $2; exit }')
    [ -n "$rate" ] || { echo "$out" >&2; echo "compare-postgres: no drain: line from crescent bench" >&2; exit 1; }
    echo "$rate" >> "$work/crescent"
    echo "run $run: crescent      $(echo "$out" | awk '/^drain:/ { sub(/^drain: +/, ""); print; exit }')"

    systems="pgqueuer"
    [ -n "$skip_procrastinate" ] || systems="pgqueuer procrastinate"
    for system in $systems; do
        n=$jobs
        [ "$system" = pgqueuer ] || n=$procrastinate_jobs
        out=$("$py" "$root/benchmarks/peer-drain.py" "$system" --database "$database" --jobs "$n" 2>&1) \
            || { echo "$out" >&2; echo "compare-postgres: the $system drain failed" >&2; exit 1; }
        rate=$(echo "$out" | awk '/^drain:/ { print $2; exit }')
        echo "$rate" >> "$work/$system"
        printf "run %d: %-13s %s\n" "$run" "$system" "$(echo "$out" | awk '/^drain:/ { sub(/^drain: +/, ""); print; exit }')"
    done
done

# Medians and ratios.
python3 - "$work" <<'PY'
import os, statistics, sys
work = sys.argv[1]
rates = {}
for system in ("crescent", "pgqueuer", "procrastinate"):
    path = os.path.join(work, system)
    if os.path.exists(path):
        rates[system] = [float(line) for line in open(path) if line.strip()]
medians = {system: statistics.median(values) for system, values in rates.items()}
print("medians (jobs/s):")
for system, value in medians.items():
    runs = ", ".join(f"{v:.0f}" for v in rates[system])
    print(f"  {system:<13} {value:>9.0f}   (runs: {runs})")
crescent = medians["crescent"]
peers = {s: v for s, v in medians.items() if s != "crescent"}
for system, value in peers.items():
    print(f"crescent / {system}: {crescent / value:.1f}x")
best = max(peers, key=peers.get)
print(f"crescent / best of the others ({best}): {crescent / peers[best]:.1f}x")
PY
