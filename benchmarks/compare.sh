#!/usr/bin/env bash
# Side by side: draining N pre-enqueued no-op jobs with Crescent (threads = 2, SQLite WAL,
# a run row per attempt) and with huey (SqliteHuey, 2 worker processes, results stored).
# Prints both rates and their ratio. A documented benchmark, not part of the test suite.
#   benchmarks/compare.sh [N=10000] [path/to/crescent]
# Needs `pip install huey` (checked with huey 3.5.4). Both rates include the start-up of the
# runner / consumer; both drain from a database filled beforehand.
set -euo pipefail
n=${1:-10000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$root/.build-release/release/crescent}
[ -x "$bin" ] || bin=$root/.build/release/crescent
[ -x "$bin" ] || bin=$root/.build/debug/crescent
python3 -c "import huey" 2>/dev/null || { echo "huey is not installed: pip install huey" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# Crescent: the bench command enqueues with queue.push, then drains with a runner.
crescent_out=$("$bin" bench --jobs "$n" --threads 2 --latency-jobs 0 --process-jobs 0)
crescent_rate=$(echo "$crescent_out" | awk '/^drain:/ { print $2 }')

# huey: the same number of no-op tasks, enqueued first, drained by a consumer with 2 processes.
cat > "$dir/hueyapp.py" <<PY
from huey import SqliteHuey
huey = SqliteHuey(filename="$dir/huey.db")

@huey.task()
def noop():
    return 1
PY
huey_rate=$(cd "$dir" && python3 - "$n" <<'PY'
import subprocess, sys, time
sys.path.insert(0, ".")
from hueyapp import huey, noop
n = int(sys.argv[1])
for _ in range(n):
    noop()
start = time.time()
consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", "hueyapp.huey",
                             "-w", "2", "-k", "process", "-d", "0.01", "-m", "0.1", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = start + 600
    while huey.result_count() < n and time.time() < deadline:
        time.sleep(0.02)
    elapsed = time.time() - start
    done = huey.result_count()
finally:
    consumer.terminate()
    consumer.wait()
if done < n:
    print(f"huey finished only {done} of {n} tasks", file=sys.stderr)
    sys.exit(1)
print(f"{n / elapsed:.0f}")
PY
)
echo "$crescent_out" | head -1
printf "crescent: %s jobs/s\n" "$crescent_rate"
printf "huey:     %s jobs/s (SqliteHuey, 2 worker processes, huey %s)\n" "$huey_rate" "$(python3 -c 'import huey; print(huey.__version__)')"
printf "ratio:    %.1fx\n" "$(echo "$crescent_rate / $huey_rate" | bc -l)"
