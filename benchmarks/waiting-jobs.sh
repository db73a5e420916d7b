#!/usr/bin/env bash
# Jobs that wait: N jobs each doing http.get on a local server that answers after 300 ms
# (MODE=http, default) or sleep("1s") (MODE=sleep), threads = 2, queue concurrency C.
# Prints the wall time of the drain and the runner's peak RSS.
#   benchmarks/waiting-jobs.sh [N=400] [C=500] [path/to/crescent]
set -euo pipefail
n=${1:-400}
c=${2:-500}
mode=${MODE:-http}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${3:-$root/.build/release/crescent}
[ -x "$bin" ] || bin=$root/.build/debug/crescent
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
python3 "$root/benchmarks/slow-server.py" "$port" 0.3 & server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
mkdir -p "$dir/tasks"
cat > "$dir/crescent.toml" <<TOML
database = "wait.db"
[workers]
threads = 2
[[queues]]
name = "default"
concurrency = $c
[http_client]
max_connections_per_host = $c
[log]
level = "error"
TOML
if [ "$mode" = http ]; then
  echo "return { handler = function() local r = http.get('http://127.0.0.1:$port/') if r.status ~= 200 then error(r.status) end end }" > "$dir/tasks/wait.lua"
else
  echo "return { handler = function() sleep('1s') end }" > "$dir/tasks/wait.lua"
fi
echo "return { handler = function() for i = 1, $n do queue.push('wait', { i = i }) end end }" > "$dir/tasks/fan.lua"
sleep 0.3
"$bin" enqueue --config "$dir/crescent.toml" fan >/dev/null
# The fan-out job itself, then the N waiting jobs.
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$dir/rss" "$bin" run --config "$dir/crescent.toml" --limit $((n + 1))
end=$(date +%s.%N)
ok=$("$bin" jobs --config "$dir/crescent.toml" --task wait --state succeeded --limit 1000000 --json | wc -l)
printf "%s jobs (%s), threads=2, concurrency=%s: %s succeeded, drained in %.2f s, peak RSS %.1f MB\n" \
  "$n" "$mode" "$c" "$ok" "$(echo "$end - $start" | bc)" "$(echo "$(cat "$dir/rss") / 1024" | bc -l)"
