# Crescent — build, run the example tasks, test.
SWIFT ?= swift
BIN = .build/debug/crescent

.PHONY: deps build release run test bench screenshots clean

# Debian packages Crescent builds against (libpq-dev for the PostgreSQL store, the sqlite3 shell
# the reliability tests query the database with, and faketime for the clock-step tests);
# installed only when missing. PostgreSQL's server (for `make test`) is scripts/test.sh's to install.
deps:
	@if ! pkg-config --exists lua5.4 2>/dev/null || [ ! -f /usr/include/sqlite3.h ] || ! command -v sqlite3 >/dev/null \
		|| ! command -v faketime >/dev/null || [ ! -f /usr/include/postgresql/libpq-fe.h ]; then \
		echo "installing liblua5.4-dev libsqlite3-dev sqlite3 pkg-config faketime libpq-dev"; \
		apt-get update -q && apt-get install -y -q liblua5.4-dev libsqlite3-dev sqlite3 pkg-config faketime libpq-dev; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# Runs Crescent on the example tasks/ with an embedded SQLite database (./crescent.db),
# next to a small local stand-in for the profile API the example sync task calls.
run: build
	@python3 scripts/example-api.py 7421 & echo $$! > .example-api.pid
	@trap 'kill `cat .example-api.pid 2>/dev/null` 2>/dev/null; rm -f .example-api.pid' EXIT INT TERM; \
		$(BIN) run --config crescent.toml

# The whole suite on SQLite, then the store and integration tests on a throw-away PostgreSQL
# cluster (installed with apt-get when missing; skipped, with the reason, when it cannot be),
# then the multi-host tests (network namespaces, iproute2; about 2 minutes).
test: build
	SWIFT="$(SWIFT)" scripts/test.sh

bench: release
	.build/release/crescent bench

clean:
	rm -rf .build crescent.db crescent.db-wal crescent.db-shm
