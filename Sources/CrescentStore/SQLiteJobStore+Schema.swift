import Foundation
import GRDB

extension SQLiteJobStore {
    /// Versioned schema. Add a new `registerMigration` for every change; never edit one
    /// that has shipped.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: schemaV1)
        }
        m.registerMigration("v2") { db in
            try db.execute(sql: schemaV2)
        }
        m.registerMigration("v3") { db in
            try db.execute(sql: schemaV3)
            try db.execute(sql: backfillRunSeconds, arguments: [Date().epoch - 3600])
        }
        // Named steps after the numbered ones.
        m.registerMigration("job-progress") { db in
            try db.execute(sql: schemaJobProgress)
        }
        m.registerMigration("tasks-version") { db in
            try db.execute(sql: schemaTasksVersion)
        }
        m.registerMigration("schedule-ids") { db in
            try db.execute(sql: schemaScheduleIDs)
        }
        m.registerMigration("job-counts") { db in
            try db.execute(sql: schemaJobCounts)
        }
        m.registerMigration("process-vitals-lost") { db in
            try db.execute(sql: schemaProcessVitals)
        }
        return m
    }

    /// Applies pending migrations. Two processes opening a new file at once may both try
    /// v1; the loser's transaction fails and rolls back, and its second pass finds v1 done.
    static func migrate(_ pool: DatabasePool) throws {
        var attempt = 0
        while true {
            do {
                try retryingBusy { try migrator.migrate(pool) }
                return
            } catch {
                attempt += 1
                if attempt >= 3 { throw error }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// What the processes page shows of each process (its Crescent version, job slots, resident
    /// memory), and lost processes kept listed for an hour: `lost_at` when another process
    /// rescued its jobs, how many and which (`rescued_jobs`, a JSON array of the first ids).
    static let schemaProcessVitals = """
        ALTER TABLE processes ADD COLUMN version TEXT NOT NULL DEFAULT '';
        ALTER TABLE processes ADD COLUMN capacity INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE processes ADD COLUMN rss_bytes INTEGER;
        ALTER TABLE processes ADD COLUMN lost_at REAL;
        ALTER TABLE processes ADD COLUMN rescued_count INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE processes ADD COLUMN rescued_jobs TEXT NOT NULL DEFAULT '[]';
        """

    /// Several schedules per task (`schedules`): occurrences are unique per (task, schedule,
    /// instant), `schedule` being the entry's id (`""` for a task's single `schedule`, so
    /// existing rows keep their meaning); `schedules` keeps the last fired occurrence per
    /// schedule, with its last catch-up after downtime (missed, run, policy, span).
    static let schemaScheduleIDs = """
        ALTER TABLE jobs ADD COLUMN schedule TEXT NOT NULL DEFAULT '';
        DROP INDEX jobs_occurrence;
        CREATE UNIQUE INDEX jobs_occurrence ON jobs (task, schedule, scheduled_for) WHERE scheduled_for IS NOT NULL;
        CREATE TABLE schedules_by_id (
            task           TEXT NOT NULL,
            schedule       TEXT NOT NULL DEFAULT '',
            last_fired     REAL NOT NULL,
            missed_count   INTEGER,
            missed_run     INTEGER,
            missed_policy  TEXT,
            missed_from    REAL,
            missed_through REAL,
            PRIMARY KEY (task, schedule)
        ) WITHOUT ROWID;
        INSERT INTO schedules_by_id (task, schedule, last_fired) SELECT task, '', last_fired FROM schedules;
        DROP TABLE schedules;
        ALTER TABLE schedules_by_id RENAME TO schedules;
        """

    /// Job progress: the last `job:progress` of a job, as `JobProgress.stored()` JSON text.
    static let schemaJobProgress = "ALTER TABLE jobs ADD COLUMN progress TEXT;"

    /// Each process's tasks version (a digest of the task files it loaded), so that `status`,
    /// `tasks` and the processes page show hosts running different task files.
    static let schemaTasksVersion = "ALTER TABLE processes ADD COLUMN tasks_version TEXT NOT NULL DEFAULT ''"

    /// Version 3: costs that follow the work, not the table.
    ///
    /// - `jobs_claim` holds only `queued` jobs (due now). Jobs due later (`scheduled`, and
    ///   `retrying` during their backoff) wait in `jobs_waiting`, by queue, state and due time; a
    ///   claim first moves its queue's waiting jobs whose time has come to `queued` (the
    ///   stager, `stage`), then reads `jobs_claim` from its start. Before, a claim walked
    ///   past every not-yet-due job of higher priority: 1M of them cut a drain to 200/s.
    /// - `run_seconds` counts finished attempts per second and outcome, written by the
    ///   transaction that writes their run rows (one row per transaction, nearly always),
    ///   so the last minute's and hour's counts and the per-minute chart read at most 3,600
    ///   rows per outcome instead of every run of the hour (957 ms with 750k runs). Filled
    ///   from the last hour's runs; the Pruner deletes rows older than `runTallyKeep`.
    static let schemaV3 = """
        DROP INDEX jobs_claim;
        CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id, state) WHERE state = 'queued';
        CREATE INDEX jobs_waiting ON jobs (queue, state, run_at) WHERE (state = 'scheduled' OR state = 'retrying');
        CREATE TABLE run_seconds (
            second  INTEGER NOT NULL,
            outcome TEXT    NOT NULL,
            n       INTEGER NOT NULL,
            PRIMARY KEY (second, outcome)
        ) WITHOUT ROWID;
        """

    static let backfillRunSeconds = """
        INSERT INTO run_seconds (second, outcome, n)
        SELECT CAST(finished_at AS INTEGER), outcome, COUNT(*) FROM runs
        WHERE finished_at >= ? AND outcome IS NOT NULL GROUP BY 1, 2
        """

    /// Version 2: fewer index entries to move per job (throughput).
    ///
    /// - `jobs_state_queue` goes: every state change moved two of its entries, in an index
    ///   as large as the table (counts: see the last point).
    /// - `jobs_task` goes: it cost an entry per insert; `jobs_occurrence` serves the one
    ///   writer query by task, and listings by task scan newest first.
    /// - `jobs_running` holds only running jobs (at most the processes' concurrency), for
    ///   the cancel poll and the rescue of a lost process's jobs.
    /// - `runs_finished` goes: run rows are written when their attempt ends, so their ids
    ///   already follow `finished_at`; time windows are found by id (`firstRunID`).
    /// - Counts by queue and state come from the three partial indexes that together hold
    ///   every job: pending jobs (`jobs_claim`, now with `state` at its end, free since its
    ///   entries are written anyway), running jobs (`jobs_running`: few, their rows are
    ///   read), finished jobs (`jobs_finished`, now by state, queue and age).
    static let schemaV2 = """
        DROP INDEX jobs_state_queue;
        DROP INDEX jobs_task;
        DROP INDEX runs_finished;
        DROP INDEX jobs_claim;
        CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id, state)
            WHERE (state = 'scheduled' OR state = 'queued' OR state = 'retrying');
        DROP INDEX jobs_finished;
        CREATE INDEX jobs_finished ON jobs (state, queue, finished_at) WHERE finished_at IS NOT NULL;
        CREATE INDEX jobs_running ON jobs (lease_owner) WHERE state = 'running';
        """

    /// The whole schema, version 1.
    ///
    /// jobs — one row per job. `state` is a `JobState` raw value; `args`/`result` JSON
    ///   text; times REAL epoch seconds. `lease_owner` and `started_at` describe the
    ///   current (or last) attempt. `expires_at` is cleared once the job starts.
    /// runs — one row per finished attempt, written when the attempt ends (the attempt in
    ///   progress is the job row itself: `state = 'running'`, `started_at`, `lease_owner`),
    ///   so a claim is one statement. Released attempts have rows too, so `(job_id,
    ///   attempt)` may repeat after a release. Deleted with their job.
    /// schedules — the last fired occurrence per scheduled task.
    /// kv — the handlers' key–value store, per task.
    /// processes — live `run` processes and their heartbeats (the leases).
    /// control — operator requests such as `stop`.
    static let schemaV1 = """
        CREATE TABLE jobs (
            id               INTEGER PRIMARY KEY AUTOINCREMENT,
            task             TEXT    NOT NULL,
            queue            TEXT    NOT NULL,
            priority         INTEGER NOT NULL DEFAULT 0,
            state            TEXT    NOT NULL,
            args             TEXT    NOT NULL DEFAULT '{}',
            attempt          INTEGER NOT NULL DEFAULT 0,
            max_attempts     INTEGER NOT NULL,
            result           TEXT,
            error            TEXT,
            unique_key       TEXT,
            unique_period    REAL,
            scheduled_for    REAL,
            run_at           REAL    NOT NULL,
            created_at       REAL    NOT NULL,
            finished_at      REAL,
            started_at       REAL,
            expires_at       REAL,
            lease_owner      TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0
        );

        -- Claiming: only pending jobs are in it, already in claim order per queue.
        CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id)
            WHERE (state = 'scheduled' OR state = 'queued' OR state = 'retrying');

        -- A unique key is held while its job is active, and freed by the job's own
        -- state change: no lock can outlive its job.
        CREATE UNIQUE INDEX jobs_unique_active ON jobs (unique_key)
            WHERE unique_key IS NOT NULL AND (state = 'scheduled' OR state = 'queued' OR state = 'running' OR state = 'retrying');

        -- Lookups of recently finished jobs for `unique.period`.
        CREATE INDEX jobs_unique_recent ON jobs (unique_key, finished_at)
            WHERE unique_key IS NOT NULL;

        -- Each schedule occurrence is one job, whatever its state: not partial on state,
        -- or a process lagging behind could fire an occurrence that already ran.
        CREATE UNIQUE INDEX jobs_occurrence ON jobs (task, scheduled_for)
            WHERE scheduled_for IS NOT NULL;

        CREATE INDEX jobs_expiry ON jobs (queue, expires_at) WHERE expires_at IS NOT NULL;
        CREATE INDEX jobs_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;
        CREATE INDEX jobs_state_queue ON jobs (state, queue);
        CREATE INDEX jobs_task ON jobs (task);

        CREATE TABLE runs (
            id          INTEGER PRIMARY KEY,
            job_id      INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            attempt     INTEGER NOT NULL,
            started_at  REAL    NOT NULL,
            finished_at REAL,
            outcome     TEXT,
            error       TEXT,
            traceback   TEXT,
            worker      TEXT    NOT NULL
        );
        CREATE INDEX runs_job ON runs (job_id);
        CREATE INDEX runs_finished ON runs (finished_at, outcome) WHERE finished_at IS NOT NULL;

        CREATE TABLE schedules (
            task       TEXT PRIMARY KEY,
            last_fired REAL NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE kv (
            task       TEXT NOT NULL,
            key        TEXT NOT NULL,
            value      TEXT NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (task, key)
        ) WITHOUT ROWID;

        CREATE TABLE processes (
            id           TEXT PRIMARY KEY,
            host         TEXT    NOT NULL,
            pid          INTEGER NOT NULL,
            queues       TEXT    NOT NULL,
            started_at   REAL    NOT NULL,
            heartbeat_at REAL    NOT NULL,
            busy         INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;

        CREATE TABLE control (
            name  TEXT PRIMARY KEY,
            value REAL NOT NULL
        ) WITHOUT ROWID;
        """
}
