#!/usr/bin/env bash
# Renders every dashboard page to PNG in ./screenshots/ (gitignored) with headless Chromium.
#
#   scripts/screenshots.sh                # demo: builds crescent, runs it on a temporary
#                                         # project with jobs in every state, then stops it
#   scripts/screenshots.sh http://127.0.0.1:7420   # a `crescent run` already serving [http]
#                                                  # (without a password)
#
# Environment: CHROMIUM (browser binary), CRESCENT_BIN (skip the build), WIDTH (1440).
# Without Chromium (and no way to install it) the script says so and exits 0.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/screenshots"
WIDTH="${WIDTH:-1440}"
BASE="${1:-}"

find_chromium() {
    for c in "${CHROMIUM:-}" chromium chromium-browser google-chrome google-chrome-stable; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }
    done
    return 1
}

BROWSER="$(find_chromium || true)"
if [ -z "$BROWSER" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "screenshots: installing chromium with apt-get…" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || true
    BROWSER="$(find_chromium || true)"
fi
if [ -z "$BROWSER" ]; then
    echo "screenshots: skipped — no chromium found and it cannot be installed here (set CHROMIUM=/path/to/chrome)." >&2
    exit 0
fi

WORK=""
RUN_PID=""
cleanup() {
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -TERM "$RUN_PID" 2>/dev/null || true
        sleep 1
        kill -TERM "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    [ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # url, seconds
    local deadline=$(( $(date +%s) + $2 ))
    until curl -fsS -o /dev/null "$1" 2>/dev/null; do
        [ "$(date +%s)" -ge "$deadline" ] && { echo "screenshots: $1 did not answer" >&2; return 1; }
        sleep 0.2
    done
}

# ── demo project ──────────────────────────────────────────────────────────────
if [ -z "$BASE" ]; then
    BIN="${CRESCENT_BIN:-}"
    if [ -z "$BIN" ]; then
        echo "screenshots: building crescent…" >&2
        (cd "$ROOT" && swift build --product crescent >/dev/null)
        BIN="$(cd "$ROOT" && swift build --show-bin-path)/crescent"
    fi
    WORK="$(mktemp -d /tmp/crescent-screens.XXXXXX)"
    PORT="$(free_port)"
    BASE="http://127.0.0.1:$PORT"
    mkdir -p "$WORK/tasks/mail" "$WORK/tasks/sync" "$WORK/tasks/report" "$WORK/tasks/media"
    cat > "$WORK/crescent.toml" <<EOF
database = "crescent.db"
tasks    = "tasks"

[workers]
threads = 2
shutdown_timeout = "1s"

[[queues]]
name = "critical"
concurrency = 10
[[queues]]
name = "default"
concurrency = 50
[[queues]]
name = "bulk"
concurrency = 2

[http]
listen = "127.0.0.1:$PORT"

[log]
format = "text"
level  = "warn"
EOF
    cat > "$WORK/tasks/mail/welcome.lua" <<'EOF'
return {
  queue = "default",
  handler = function(job)
    sleep("50ms")
    return { sent = true, to = job.args.email }
  end,
}
EOF
    cat > "$WORK/tasks/sync/accounts.lua" <<'EOF'
return {
  queue = "critical",
  priority = 10,
  unique = "args",
  retry = { attempts = 1 },
  handler = function(job)
    if job.args.fail then
      error("northstar answered 503 for account " .. tostring(job.args.account))
    end
    return { synced = job.args.account }
  end,
}
EOF
    cat > "$WORK/tasks/sync/flaky.lua" <<'EOF'
return {
  queue = "critical",
  retry = { attempts = 5, backoff = "exponential", delay = "10m" },
  handler = function(job)
    local function fetch() error("connection reset by peer") end
    fetch()
  end,
}
EOF
    cat > "$WORK/tasks/media/transcode.lua" <<'EOF'
return {
  queue = "bulk",
  ttl = "1h",
  handler = function(job)
    sleep("10m")
    return { ok = true }
  end,
}
EOF
    cat > "$WORK/tasks/report/daily.lua" <<'EOF'
return {
  schedule = "0 8 * * *",
  timezone = "Europe/Berlin",
  unique = true,
  handler = function(job) return { rows = 42 } end,
}
EOF
    cat > "$WORK/tasks/report/heartbeat.lua" <<'EOF'
return {
  schedule = "@every 5s",
  missed = "skip",
  handler = function(job) return { ok = true } end,
}
EOF
    cat > "$WORK/tasks/broken.lua" <<'EOF'
return {
  queue = "default",
  scheduel = "*/5 * * * *",
  handler = function(job) end,
}
EOF
    C=(--config "$WORK/crescent.toml")
    for i in $(seq 1 24); do "$BIN" enqueue "${C[@]}" mail/welcome --args "{\"email\":\"user$i@example.org\"}" >/dev/null; done
    for i in 1 2 3 4 5; do "$BIN" enqueue "${C[@]}" sync/accounts --args "{\"account\":$i,\"fail\":true}" >/dev/null; done
    for i in 6 7 8; do "$BIN" enqueue "${C[@]}" sync/accounts --args "{\"account\":$i}" >/dev/null; done
    for i in 1 2; do "$BIN" enqueue "${C[@]}" sync/flaky --args "{\"page\":$i}" >/dev/null; done
    for i in 1 2 3; do "$BIN" enqueue "${C[@]}" media/transcode --args "{\"video\":$i}" >/dev/null; done
    for i in 1 2 3; do "$BIN" enqueue "${C[@]}" mail/welcome --in 2h --args "{\"email\":\"later$i@example.org\"}" >/dev/null; done
    CANCEL_ID="$("$BIN" enqueue "${C[@]}" mail/welcome --in 3h --args '{"email":"nobody@example.org"}')"
    "$BIN" cancel "${C[@]}" "$CANCEL_ID" >/dev/null

    "$BIN" run "${C[@]}" >"$WORK/run.log" 2>&1 &
    RUN_PID=$!
    wait_for "$BASE/healthz" 60
    # Let the workers get through the queue: wait until nothing is left queued.
    deadline=$(( $(date +%s) + 60 ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        queued="$(curl -fsS "$BASE/api/jobs?state=queued&limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
        [ "$queued" = 0 ] && break
        sleep 0.5
    done
    # Two more rounds of the 5-second heartbeat task, for the chart.
    sleep 6
    # Enqueue a little more through the API so the newest rows are fresh.
    for i in 25 26 27; do
        curl -fsS -X POST -H 'Content-Type: application/json' \
            -d "{\"task\":\"mail/welcome\",\"args\":{\"email\":\"user$i@example.org\"}}" "$BASE/api/jobs" >/dev/null
    done
    sleep 1
fi

wait_for "$BASE/healthz" 30

first_id() { # state
    curl -fsS "$BASE/api/jobs?state=$1&limit=1" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[0]["id"] if j else "")'
}
DEAD_ID="$(first_id dead)"
RUNNING_ID="$(first_id running)"

mkdir -p "$OUT"
shoot() { # name, path, height
    local file="$OUT/$1.png"
    "$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
        --window-size="$WIDTH,${3:-1000}" --screenshot="$file" "$BASE$2" >/dev/null 2>&1
    echo "$file  ←  $2"
}
shoot overview / 1250
shoot queues /queues 700
shoot tasks /tasks 900
shoot jobs /jobs 1900
shoot jobs-filtered "/jobs?state=dead&queue=critical" 800
[ -n "$DEAD_ID" ] && shoot job-dead "/jobs/$DEAD_ID" 1100
[ -n "$RUNNING_ID" ] && shoot job-running "/jobs/$RUNNING_ID" 900
shoot dead /dead 900
shoot processes /processes 600
shoot not-found /jobs/999999 500
