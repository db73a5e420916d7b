#!/usr/bin/env bash
# An idle runner with 20 task files: its resident memory once settled, and the time from
# launching `crescent run` to the start of a job that was waiting for it.
#   benchmarks/idle-start.sh [path/to/crescent]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build-release/release/crescent}
[ -x "$bin" ] || bin=$root/.build/debug/crescent
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
mkdir -p "$dir/tasks"
cat > "$dir/crescent.toml" <<TOML
database = "idle.db"
[workers]
threads = 2
[log]
level = "error"
TOML
for i in $(seq 1 20); do
  cat > "$dir/tasks/task$i.lua" <<LUA
return {
  queue = "default",
  retry = { attempts = 3, delay = "10s" },
  handler = function(job)
    local total = 0
    for k, v in pairs(job.args) do total = total + (tonumber(v) or 0) end
    return { task = $i, total = total }
  end,
}
LUA
done
"$bin" enqueue --config "$dir/crescent.toml" task1 --args '{"a": 1}' >/dev/null
sleep 0.2
launch=$(date +%s.%N)
"$bin" run --config "$dir/crescent.toml" & pid=$!
# The job's run row records when it started.
while [ "$("$bin" jobs --config "$dir/crescent.toml" --state succeeded --json | wc -l)" -lt 1 ]; do sleep 0.02; done
started=$("$bin" job --config "$dir/crescent.toml" 1 --json | python3 -c 'import json,sys,datetime; r=json.load(sys.stdin)["runs"][0]["started_at"]; print(datetime.datetime.fromisoformat(r.replace("Z","+00:00")).timestamp())')
sleep 3
rss=$(awk '/VmRSS/ { print $2 }' /proc/$pid/status)
kill -INT $pid; wait $pid || true
printf "idle runner, 20 task files, threads=2: RSS %.1f MB after 3 s idle; launch to first job start %.0f ms\n" \
  "$(echo "$rss / 1024" | bc -l)" "$(echo "($started - $launch) * 1000" | bc -l)"
