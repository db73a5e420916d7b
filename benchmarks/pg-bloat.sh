#!/usr/bin/env bash
# Table growth on PostgreSQL over repeated rounds of enqueue-and-drain: after each round of N
# no-op jobs, the jobs table's size (heap, indexes), its dead row versions, and the time of a
# claim-path read (`crescent status`). Finished jobs stay (no retention pruning during the run).
#   benchmarks/pg-bloat.sh postgres://user:pass@host:port/db [rounds] [jobs per round]
# Uses .build/release/crescent (make release). The schema bloat_<random> is dropped at the end.
set -euo pipefail
url=${1:?postgres URL}; rounds=${2:-5}; n=${3:-100000}
bin=$(cd "$(dirname "$0")/.." && pwd)/.build/release/crescent
schema=bloat_$RANDOM$RANDOM
dir=$(mktemp -d)
trap 'psql "$url" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; rm -rf "$dir"' EXIT
mkdir "$dir/tasks"
echo 'return { handler = function(job) end }' > "$dir/tasks/noop.lua"
echo 'return { handler = function(job) for i = 1, job.args.n do queue.push("noop", {}) end end }' > "$dir/tasks/fan.lua"
sep='?'; case "$url" in *\?*) sep='&';; esac
printf 'database = "%s%sschema=%s"\n[workers]\nthreads = 2\n[[queues]]\nname = "default"\nconcurrency = 1000\n[log]\nlevel = "error"\n' \
    "$url" "$sep" "$schema" > "$dir/crescent.toml"
cd "$dir"
printf 'round  jobs     heap_MB  index_MB  dead_rows  status_ms\n'
for r in $(seq 1 "$rounds"); do
    per=$(( n < 100000 ? n : 100000 ))
    left=$n
    while [ "$left" -gt 0 ]; do
        k=$(( left < per ? left : per ))
        "$bin" enqueue fan --args "{\"n\": $k}" >/dev/null
        "$bin" run --limit $((k + 1)) >/dev/null 2>&1
        left=$(( left - k ))
    done
    start=$(date +%s%N); "$bin" status >/dev/null; ms=$(( ($(date +%s%N) - start) / 1000000 ))
    psql "$url" -At -F ' ' -c "SELECT $r, (SELECT count(*) FROM $schema.jobs),
        round(pg_relation_size('$schema.jobs') / 1048576.0, 1), round(pg_indexes_size('$schema.jobs') / 1048576.0, 1),
        (SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = '$schema' AND relname = 'jobs'), $ms" \
        | awk '{ printf "%-6s %-8s %-8s %-9s %-10s %s\n", $1, $2, $3, $4, $5, $6 }'
done
