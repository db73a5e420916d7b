#!/usr/bin/env bash
# Where a no-op job's work goes, in CPU instructions per job, counted by valgrind's
# callgrind: unlike wall-clock figures these do not move with the machine's load, so they
# show what a change to the hot path saves. A documented benchmark, not part of the tests.
#   benchmarks/instructions.sh [N=20000] [path/to/crescent]
# Runs `crescent bench --jobs N` (bulk enqueue, then drain) under callgrind (~1 minute
# for 20,000 jobs) and prints the inclusive instructions per job of:
#   claim       — reading and marking due jobs (in the cycle's transaction)
#   complete    — job UPDATEs and run rows (in the cycle's transaction), pushes excluded
#   writer      — the whole transaction: claim + complete + its own overhead
#   pipeline    — the pipeline thread: the transaction plus building completions,
#                 handing jobs to the workers, logs and metrics
#   enqueue     — inserting the bulk-enqueued jobs (writer)
#   lua         — the Lua worker threads (handler calls, job tables, results)
# Needs valgrind. The binary is copied without its DWARF (valgrind 3.19 cannot read
# Swift's DWARF 5); function names come from the symbol table.
set -euo pipefail
n=${1:-20000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${2:-$root/.build-release/release/crescent}
command -v valgrind >/dev/null || { echo "valgrind is not installed: apt-get install -y valgrind" >&2; exit 2; }
[ -x "$bin" ] || { echo "no release binary at $bin: swift build -c release --scratch-path .build-release" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/crescent"
strip --strip-debug "$dir/crescent"
valgrind --tool=callgrind --callgrind-out-file="$dir/out" "$dir/crescent" bench --jobs "$n" --threads 2 \
    --latency-jobs 0 --process-jobs 0 >/dev/null 2>&1
callgrind_annotate --inclusive=yes --threshold=100 "$dir/out" 2>/dev/null | swift demangle --simplified | awk -v n="$n" '
    function count(line) { gsub(",", "", line); split(line, f, " "); return f[1] + 0 }
    /static SQLiteJobStore.claim\(_:db:\)/ && !claim { claim = count($0) }
    /:closure #1 in SQLiteJobStore.cycle\(/ && !tx { tx = count($0) }
    /static SQLiteJobStore.insertAll\(/ && !insert { insert = count($0) }
    /:Pipeline.cycleLoop\(\)/ && !cycle { cycle = count($0) }
    /:LuaWorker.runLoop\(\)/ && !lua { lua = count($0) }
    /PROGRAM TOTALS/ { total = count($0) }
    END {
        printf "instructions per job over %d jobs (callgrind):\n", n
        printf "  claim     %6.1fk\n", claim / n / 1000
        printf "  complete  %6.1fk\n", (tx - claim - insert) / n / 1000
        printf "  writer    %6.1fk (the transaction: claim + complete + its overhead)\n", (tx - insert) / n / 1000
        printf "  pipeline  %6.1fk (the pipeline thread, transaction included)\n", (cycle - insert) / n / 1000
        printf "  enqueue   %6.1fk\n", insert / n / 1000
        printf "  lua       %6.1fk\n", lua / n / 1000
        printf "  process   %6.1fk (everything, start-up and the bench itself included)\n", total / n / 1000
    }'
