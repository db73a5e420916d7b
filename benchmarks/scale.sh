#!/usr/bin/env bash
# Costs that should follow the work, not the table (issue 19, items 3-5), on large
# databases filled by the sqlite3 shell (recursive CTEs), with a release build:
#   1. drain of 10,000 due jobs with 0, 100k and 1M not-yet-due jobs of higher priority
#   2. latency of `status`, `/`, `/jobs`, `/metrics` with 10k, 100k and 1M jobs
#   3. drain of 200,000 jobs with and without a concurrent prune of 1M jobs
#   4. idle CPU of a runner with 0 and 1M not-yet-due jobs
# Prints medians of TRIALS runs (default 3).
#   benchmarks/scale.sh [path/to/crescent]      SECTIONS="drain reads prune idle" TRIALS=3
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/crescent}
[ -x "$bin" ] || { echo "no release build at $bin (swift build -c release)" >&2; exit 2; }
trials=${TRIALS:-3}
sections=${SECTIONS:-drain reads prune idle}
work=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
runner=
trap '[ -n "$runner" ] && kill $runner 2>/dev/null; rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
list() { tr '\n' ' ' | sed 's/ $//'; }

# A project folder: one no-op task, one queue of concurrency 1000, two Lua threads.
project() {  # dir [extra toml]
  mkdir -p "$1/tasks"
  echo "return { handler = function(job) end }" > "$1/tasks/noop.lua"
  cat > "$1/crescent.toml" <<TOML
database = "scale.db"
[workers]
threads = 2
[[queues]]
name = "default"
concurrency = 1000
[log]
level = "error"
${2:-}
TOML
  "$bin" retry --all-dead --config "$1/crescent.toml" >/dev/null  # a write: creates the schema
}

sql() { sqlite3 -batch "$1/scale.db" "PRAGMA busy_timeout = 10000; $2" >/dev/null; }

# Inserts jobs: dir count state priority run_at-offset(s) [finished-offset(s)]
fill() {
  local fin=NULL
  [ -n "${6:-}" ] && fin="strftime('%s','now') + $6 + (x % 3600)"
  sql "$1" "
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < $2)
    INSERT INTO jobs (task, queue, priority, state, args, attempt, max_attempts, run_at, created_at, finished_at, result)
    SELECT 'noop', 'default', $4, '$3', '{}', CASE WHEN '$3' IN ('queued', 'scheduled') THEN 0 ELSE 1 END, 3,
           strftime('%s','now') + $5 + x * 0.000001, strftime('%s','now'), $fin,
           CASE WHEN '$3' = 'succeeded' THEN 'null' END
    FROM c;"
  # Rows written by the shell are not in the finished-job counts Crescent keeps: count again.
  if sqlite3 "$1/scale.db" "SELECT 1 FROM sqlite_master WHERE name = 'job_counts'" | grep -q 1; then
    sql "$1" "DELETE FROM job_counts;
      INSERT INTO job_counts (queue, state, n)
      SELECT queue, state, COUNT(*) FROM jobs WHERE finished_at IS NOT NULL GROUP BY 1, 2;"
  fi
}

# One run row per finished job, finished when the job did; and, where the schema has it,
# the per-second counts a runner keeps with them.
runs() {
  sql "$1" "
    INSERT INTO runs (job_id, attempt, started_at, finished_at, outcome, error, worker)
    SELECT id, 1, finished_at - 0.001, finished_at, CASE state WHEN 'succeeded' THEN 'succeeded' ELSE 'failed' END,
           CASE state WHEN 'dead' THEN 'boom' END, 'bench'
    FROM jobs WHERE finished_at IS NOT NULL ORDER BY finished_at;"
  if sqlite3 "$1/scale.db" "SELECT 1 FROM sqlite_master WHERE name = 'run_seconds'" | grep -q 1; then
    sql "$1" "DELETE FROM run_seconds;
      INSERT INTO run_seconds (second, outcome, n)
      SELECT CAST(finished_at AS INTEGER), outcome, COUNT(*) FROM runs GROUP BY 1, 2;"
  fi
}

# `run --limit N` on a copy of the template; prints jobs/s (start-up included).
drain() {  # template-dir n
  rm -rf "$work/d" && cp -r "$1" "$work/d"
  local t0 t1
  t0=$(now)
  "$bin" run --config "$work/d/crescent.toml" --limit "$2"
  t1=$(now)
  local left
  left=$(sqlite3 "$work/d/scale.db" "SELECT COUNT(*) FROM jobs WHERE priority = 0 AND state = 'queued'")
  [ "$left" = 0 ] || echo "warning: $left due jobs left" >&2
  echo "$2 / ($t1 - $t0)" | bc -l | xargs printf "%.0f\n"
}

if [[ " $sections " == *" drain "* ]]; then
  echo "## Drain of 10,000 due jobs (priority 0) beside not-yet-due jobs of priority 10 (jobs/s, median of $trials)"
  echo "| not-yet-due jobs | runs | median | vs empty |"
  echo "| --- | --- | --- | --- |"
  base=
  for future in 0 100000 1000000; do
    t="$work/drain-$future"
    project "$t"
    # Half scheduled for tomorrow, half retrying after a long backoff (an outage's backlog).
    [ "$future" -gt 0 ] && fill "$t" $((future / 2)) scheduled 10 86400 && fill "$t" $((future / 2)) retrying 10 86400
    fill "$t" 10000 queued 0 -1
    rates=$(for i in $(seq "$trials"); do drain "$t" 10000; done | list)
    m=$(echo "$rates" | tr ' ' '\n' | median)
    [ -z "$base" ] && base=$m
    printf "| %s | %s | **%s** | %+.0f %% |\n" "$future" "$rates" "$m" "$(echo "($m - $base) * 100 / $base" | bc -l)"
  done
  echo
fi

if [[ " $sections " == *" idle "* ]]; then
  echo "## Idle runner (no due job): CPU, % of a core over 10 s"
  echo "| not-yet-due jobs | CPU |"
  echo "| --- | --- |"
  for future in 0 1000000; do
    t="$work/drain-$future"
    [ -d "$t" ] || { project "$t"; [ "$future" -gt 0 ] && fill "$t" $((future / 2)) scheduled 10 86400 && fill "$t" $((future / 2)) retrying 10 86400; }
    rm -rf "$work/i" && cp -r "$t" "$work/i"
    sql "$work/i" "DELETE FROM jobs WHERE state = 'queued'"
    "$bin" run --config "$work/i/crescent.toml" & runner=$!
    sleep 3
    tick=$(getconf CLK_TCK)
    cpu() { awk '{ print $14 + $15 }' "/proc/$runner/stat"; }
    c0=$(cpu); t0=$(now); sleep 10; c1=$(cpu); t1=$(now)
    kill $runner; wait $runner 2>/dev/null || true; runner=
    printf "| %s | %.1f %% |\n" "$future" "$(echo "($c1 - $c0) / $tick * 100 / ($t1 - $t0)" | bc -l)"
  done
  echo
fi

if [[ " $sections " == *" reads "* ]]; then
  echo "## Reads with N jobs (98 % succeeded and 1 % dead, finished within the last hour, one run each; 1 % due tomorrow): ms, median of $trials"
  echo "| jobs | status --json | / | /jobs | /metrics | /healthz |"
  echo "| --- | --- | --- | --- | --- | --- |"
  for n in 10000 100000 1000000; do
    t="$work/reads-$n"
    project "$t" "[http]
listen = \"127.0.0.1:$port\""
    fill "$t" $((n * 98 / 100)) succeeded 0 -3600 -3599
    fill "$t" $((n / 100)) dead 0 -3600 -3599
    fill "$t" $((n / 100)) scheduled 0 86400
    runs "$t"
    "$bin" run --config "$t/crescent.toml" & runner=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    ms() { for _ in $(seq "$trials"); do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port$1"; done | median | awk '{ printf "%.1f", $1 * 1000 }'; }
    st=$(for _ in $(seq "$trials"); do
      s=$(now); "$bin" status --json --config "$t/crescent.toml" >/dev/null; e=$(now); echo "($e - $s) * 1000" | bc -l
    done | median | xargs printf "%.1f")
    printf "| %s | %s | %s | %s | %s | %s |\n" "$n" "$st" "$(ms /)" "$(ms /jobs)" "$(ms /metrics)" "$(ms /healthz)"
    kill $runner; wait $runner 2>/dev/null || true; runner=
    rm -rf "$t"
  done
  echo
fi

if [[ " $sections " == *" prune "* ]]; then
  echo "## Drain of 200,000 jobs beside 1,000,000 succeeded jobs finished 2 days ago (jobs/s, median of $trials)"
  echo "| retention | runs | median | vs no prune |"
  echo "| --- | --- | --- | --- |"
  base=
  for keep in 30d 1h; do
    t="$work/prune-$keep"
    project "$t" "[retention]
succeeded = \"$keep\""
    fill "$t" 1000000 succeeded 0 -172800 -172800
    runs "$t"
    fill "$t" 200000 queued 0 -1
    label=$([ "$keep" = 30d ] && echo "30d (no prune)" || echo "1h (prunes the 1M during the drain)")
    rates=$(for i in $(seq "$trials"); do drain "$t" 200000; done | list)
    m=$(echo "$rates" | tr ' ' '\n' | median)
    [ -z "$base" ] && base=$m
    printf "| %s | %s | **%s** | %+.0f %% |\n" "$label" "$rates" "$m" "$(echo "($m - $base) * 100 / $base" | bc -l)"
    rm -rf "$t"
  done
  echo
fi
