#!/usr/bin/env bash
# The README's performance table: every row measured RUNS times (default 3), runs of the
# different rows interleaved so that a burst of load on the machine does not land on one
# row only; prints each run and the medians. A documented benchmark, not a test.
#   benchmarks/table.sh [RUNS=3] [path/to/crescent]
# The huey comparison is separate (benchmarks/compare.sh: it needs `pip install huey`).
set -euo pipefail
runs=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$root/.build-release/release/crescent}
[ -x "$bin" ] || { echo "no release binary at $bin: swift build -c release --scratch-path .build-release --product crescent" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

field() { awk -v k="$1" -v n="$2" '$0 ~ k { gsub(/[(),]/, " "); print $n; exit }'; }
# The word after WORD on the line matching KEY.
after() { awk -v k="$1" -v w="$2" '$0 ~ k { gsub(/,/, " "); for (i = 1; i < NF; i++) if ($i == w) { print $(i + 1); exit } }'; }
for i in $(seq 1 "$runs"); do
  "$bin" bench --jobs 100000 --threads 2 --latency-jobs 0 --process-jobs 0 > "$out/noop"
  field '^drain:' 2 < "$out/noop" >> "$out/drain"
  field '^enqueue:' 2 < "$out/noop" >> "$out/enqueue"
  "$bin" bench --jobs 2000 --threads 2 --latency-jobs 200 --process-jobs 20 > "$out/lat"
  after 'in-process API' p50 < "$out/lat" >> "$out/api50"
  after 'in-process API' p99 < "$out/lat" >> "$out/api99"
  after 'other processes' p50 < "$out/lat" >> "$out/proc50"
  after 'other processes' p99 < "$out/lat" >> "$out/proc99"
  "$bin" bench --jobs 10000 --mode sleep --concurrency 10000 --threads 2 --latency-jobs 0 --process-jobs 0 > "$out/sleep"
  field '^drain:' 4 < "$out/sleep" >> "$out/sleep_s"
  field '^peak RSS' 3 < "$out/sleep" >> "$out/sleep_rss"
  "$bin" bench --jobs 1000 --mode http --concurrency 1000 --threads 2 --latency-jobs 0 --process-jobs 0 > "$out/http"
  field '^drain:' 4 < "$out/http" >> "$out/http_s"
  "$root/benchmarks/idle-start.sh" "$bin" > "$out/idle"
  awk '{ for (i = 1; i < NF; i++) if ($i == "RSS") print $(i + 1) }' "$out/idle" >> "$out/idle_rss"
  awk '{ for (i = 2; i <= NF; i++) if ($i == "ms") print $(i - 1) }' "$out/idle" >> "$out/idle_ms"
  echo "run $i: drain $(tail -1 "$out/drain")/s, enqueue $(tail -1 "$out/enqueue")/s," \
       "API p50/p99 $(tail -1 "$out/api50")/$(tail -1 "$out/api99") ms, processes $(tail -1 "$out/proc50")/$(tail -1 "$out/proc99") ms," \
       "sleep $(tail -1 "$out/sleep_s") s $(tail -1 "$out/sleep_rss") MB, http $(tail -1 "$out/http_s") s; idle: $(tr '\n' ' ' < "$out/idle")"
done

median() { sort -g "$out/$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "medians of $runs runs:"
echo "  drain 100,000 no-op jobs, threads = 2:   $(median drain) jobs/s"
echo "  bulk enqueue (queue.push):               $(median enqueue) jobs/s"
echo "  enqueue → start, in-process API:         p50 $(median api50) ms, p99 $(median api99) ms"
echo "  enqueue → start, crescent enqueue:       p50 $(median proc50) ms, p99 $(median proc99) ms"
echo "  10,000 × sleep(\"1s\"):                    $(median sleep_s) s, peak RSS $(median sleep_rss) MB"
echo "  1,000 × http.get (300 ms):               $(median http_s) s"
echo "  idle runner, 20 task files:              RSS $(median idle_rss) MB, launch to first job $(median idle_ms) ms"
