#!/usr/bin/env bash
# Schedule lag: how long after its occurrence a scheduled job starts, on an idle runner.
# Runs an every-second six-field schedule for SECONDS (default 30) and prints p50/p99 of
# (run started_at - scheduled_for) over all occurrences.
#   benchmarks/schedule-lag.sh [SECONDS] [path/to/crescent]
set -euo pipefail
seconds=${1:-30}
bin=${2:-$(cd "$(dirname "$0")/.." && pwd)/.build/release/crescent}
[ -x "$bin" ] || bin=$(cd "$(dirname "$0")/.." && pwd)/.build/debug/crescent
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/tasks"
cat > "$dir/crescent.toml" <<TOML
database = "lag.db"
[workers]
threads = 2
[log]
level = "error"
TOML
echo 'return { schedule = "* * * * * *", handler = function(job) end }' > "$dir/tasks/tick.lua"
"$bin" run --config "$dir/crescent.toml" & pid=$!
sleep "$seconds"
kill -INT $pid; wait $pid
"$bin" jobs --config "$dir/crescent.toml" --json --limit 100000 | python3 -c '
import json, subprocess, sys
from datetime import datetime
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
lags = []
for line in sys.stdin:
    job = json.loads(line)
    full = json.loads(subprocess.check_output([sys.argv[1], "job", "--config", sys.argv[2], str(job["id"]), "--json"]))
    if full["runs"] and full["scheduled_for"]:
        lags.append((t(full["runs"][0]["started_at"]) - t(full["scheduled_for"])) * 1000)
lags.sort()
if not lags: sys.exit("no occurrences ran")
p = lambda q: lags[min(len(lags) - 1, int(len(lags) * q))]
print(f"schedule lag over {len(lags)} occurrences: p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, max {lags[-1]:.1f} ms")
' "$bin" "$dir/crescent.toml"
