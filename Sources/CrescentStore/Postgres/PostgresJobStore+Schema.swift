import CrescentCore
import Foundation

extension PostgresJobStore {
    /// The migrations, in order; version n is `migrations[n - 1]`. Add new ones at the end and
    /// never edit one that has shipped. `%S` stands for the quoted schema name, `%N` for the
    /// bare one (inside string literals).
    static let migrations: [String] = [schemaV1, schemaJobProgress, schemaTasksVersion, schemaEnqueueFunction,
                                       schemaScheduleIDs, schemaJobCounts, schemaProcessVitals,
                                       schemaRunsCascadeTrigger]

    /// Creates the schema if needed and applies the migrations it lacks, in one transaction
    /// holding an advisory lock on the schema's name: a second process starting at the same
    /// moment waits, then finds them applied. A schema migrated past what this build knows
    /// is refused (exit 2) before anything is changed.
    static func migrate(_ conn: PGConnection, url: PostgresURL) throws {
        let q = "\"\(url.schema)\""
        do {
            try conn.transaction {
                try conn.query("SELECT pg_advisory_xact_lock(hashtext($1))", ["crescent migrate " + url.schema])
                // Created only when missing: CREATE SCHEMA needs the CREATE right on the database
                // even with IF NOT EXISTS, and a schema made by the DBA needs only its owner.
                if try conn.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [url.schema]).count == 0 {
                    try conn.execute("CREATE SCHEMA \(q)")
                }
                try conn.execute("""
                    CREATE TABLE IF NOT EXISTS \(q).migrations (
                        version    integer PRIMARY KEY,
                        applied_at double precision NOT NULL
                    )
                    """)
                let current = try conn.query("SELECT COALESCE(MAX(version), 0) FROM \(q).migrations").int(0, 0)
                if current > migrations.count {
                    throw CrescentError(.config, """
                        database \(url.display): the schema \(url.schema) was migrated by a newer Crescent \
                        (schema version \(current); this one knows up to \(migrations.count)); upgrade this host's crescent
                        """, field: "database")
                }
                for version in (current + 1)..<(migrations.count + 1) {
                    try conn.execute(migrations[version - 1].replacingOccurrences(of: "%S", with: q)
                        .replacingOccurrences(of: "%N", with: url.schema))
                    try conn.query("INSERT INTO \(q).migrations (version, applied_at) VALUES ($1, $2)",
                                   [version, Date().timeIntervalSince1970])
                }
            }
        } catch let error as PGError {
            if error.sqlState == "42501" {
                throw CrescentError(.config, "database \(url.display): the user may not create the schema \(url.schema) or its tables (\(firstLine(error.message))); see the README's rights section", field: "database")
            }
            throw CrescentError(.config, "database \(url.display): could not prepare the schema \(url.schema): \(firstLine(error.message))", field: "database")
        }
    }

    /// Run rows still go with their job, deleted by one statement-level trigger per DELETE
    /// on `jobs` instead of the foreign key's ON DELETE CASCADE: the key also checked every
    /// run row inserted against `jobs` (a lookup and a row lock per finished attempt, ~12% of
    /// the completion statement), although each is inserted by the statement that finished
    /// its job.
    static let schemaRunsCascadeTrigger = """
        ALTER TABLE %S.runs DROP CONSTRAINT runs_job_id_fkey;
        CREATE FUNCTION %S.jobs_delete_runs() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM %S.runs WHERE job_id IN (SELECT id FROM gone);
            RETURN NULL;
        END $$;
        CREATE TRIGGER jobs_delete_runs AFTER DELETE ON %S.jobs REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION %S.jobs_delete_runs();
        """

    /// Several schedules per task (as SQLite's `schedule-ids` step): occurrences unique per
    /// (task, schedule, instant); the last fired occurrence and last catch-up per schedule.
    static let schemaScheduleIDs = """
        ALTER TABLE %S.jobs ADD COLUMN schedule text NOT NULL DEFAULT '';
        DROP INDEX %S.jobs_occurrence;
        CREATE UNIQUE INDEX jobs_occurrence ON %S.jobs (task, schedule, scheduled_for) WHERE scheduled_for IS NOT NULL;
        ALTER TABLE %S.schedules ADD COLUMN schedule text NOT NULL DEFAULT '',
            ADD COLUMN missed_count bigint, ADD COLUMN missed_run bigint, ADD COLUMN missed_policy text,
            ADD COLUMN missed_from double precision, ADD COLUMN missed_through double precision;
        ALTER TABLE %S.schedules DROP CONSTRAINT schedules_pkey, ADD PRIMARY KEY (task, schedule);
        """

    /// Each process's Crescent version, job slots and resident memory; lost processes kept
    /// listed for an hour with what was rescued from them (as SQLite's `process-vitals-lost` step).
    static let schemaProcessVitals = """
        ALTER TABLE %S.processes ADD COLUMN version text NOT NULL DEFAULT '',
            ADD COLUMN capacity bigint NOT NULL DEFAULT 0, ADD COLUMN rss_bytes bigint,
            ADD COLUMN lost_at double precision, ADD COLUMN rescued_count bigint NOT NULL DEFAULT 0,
            ADD COLUMN rescued_jobs text NOT NULL DEFAULT '[]';
        """

    /// Job progress (`job:progress`): the last one of a job, as `JobProgress.stored()` JSON text.
    static let schemaJobProgress = "ALTER TABLE %S.jobs ADD COLUMN progress text;"

    /// Each process's tasks version (a digest of the task files it loaded), so that `status`,
    /// `tasks` and the processes page show hosts running different task files.
    static let schemaTasksVersion = """
        ALTER TABLE %S.processes ADD COLUMN tasks_version text NOT NULL DEFAULT '';
        """

    /// Version 1: SQLite's version 3 layout, in PostgreSQL's terms.
    ///
    /// - Partial indexes keep each query's index as small as the work it serves: `jobs_claim`
    ///   holds only queued jobs, `jobs_waiting` jobs due later, `jobs_running` running ones.
    ///   Finished jobs (most of the table after a while) are only in `jobs_finished` (counts,
    ///   listings and the Pruner) and the primary key. `jobs_waiting` carries `state` (INCLUDE)
    ///   so that counts by queue and state read its entries alone (index-only scans).
    /// - `jobs` is updated several times per job: a lower fillfactor leaves room on each page
    ///   for the new row versions, and autovacuum visits after 2% of the rows changed (not 20%),
    ///   so dead versions are reused instead of growing the table.
    /// - `run_seconds` counts finished attempts per second, outcome and process: each process
    ///   adds to its own rows, so runners on several hosts never wait on each other's counter.
    static let schemaV1 = """
        CREATE TABLE %S.jobs (
            id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            task             text    NOT NULL,
            queue            text    NOT NULL,
            priority         integer NOT NULL DEFAULT 0,
            state            text    NOT NULL,
            args             text    NOT NULL DEFAULT '{}',
            attempt          integer NOT NULL DEFAULT 0,
            max_attempts     integer NOT NULL,
            result           text,
            error            text,
            unique_key       text,
            unique_period    double precision,
            scheduled_for    double precision,
            run_at           double precision NOT NULL,
            created_at       double precision NOT NULL,
            finished_at      double precision,
            started_at       double precision,
            expires_at       double precision,
            lease_owner      text,
            cancel_requested boolean NOT NULL DEFAULT false
        ) WITH (fillfactor = 80, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

        CREATE INDEX jobs_claim ON %S.jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
        CREATE INDEX jobs_waiting ON %S.jobs (queue, run_at) INCLUDE (state) WHERE state IN ('scheduled', 'retrying');
        CREATE INDEX jobs_running ON %S.jobs (lease_owner) WHERE state = 'running';
        CREATE UNIQUE INDEX jobs_unique_active ON %S.jobs (unique_key)
            WHERE unique_key IS NOT NULL AND state IN ('scheduled', 'queued', 'running', 'retrying');
        CREATE INDEX jobs_unique_recent ON %S.jobs (unique_key, finished_at) WHERE unique_key IS NOT NULL;
        CREATE UNIQUE INDEX jobs_occurrence ON %S.jobs (task, scheduled_for) WHERE scheduled_for IS NOT NULL;
        CREATE INDEX jobs_expiry ON %S.jobs (queue, expires_at) WHERE expires_at IS NOT NULL;
        CREATE INDEX jobs_finished ON %S.jobs (state, queue, finished_at) WHERE finished_at IS NOT NULL;

        CREATE TABLE %S.runs (
            id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            job_id      bigint  NOT NULL REFERENCES %S.jobs (id) ON DELETE CASCADE,
            attempt     integer NOT NULL,
            started_at  double precision NOT NULL,
            finished_at double precision,
            outcome     text,
            error       text,
            traceback   text,
            worker      text    NOT NULL
        );
        CREATE INDEX runs_job ON %S.runs (job_id);

        CREATE TABLE %S.run_seconds (
            second  bigint  NOT NULL,
            outcome text    NOT NULL,
            worker  text    NOT NULL,
            n       integer NOT NULL,
            PRIMARY KEY (second, outcome, worker)
        );

        CREATE TABLE %S.schedules (
            task       text PRIMARY KEY,
            last_fired double precision NOT NULL
        );

        CREATE TABLE %S.kv (
            task       text NOT NULL,
            key        text NOT NULL,
            value      text NOT NULL,
            updated_at double precision NOT NULL,
            PRIMARY KEY (task, key)
        );

        CREATE TABLE %S.processes (
            id           text PRIMARY KEY,
            host         text    NOT NULL,
            pid          integer NOT NULL,
            queues       text    NOT NULL,
            started_at   double precision NOT NULL,
            heartbeat_at double precision NOT NULL,
            busy         integer NOT NULL DEFAULT 0
        );

        CREATE TABLE %S.control (
            name  text PRIMARY KEY,
            value double precision NOT NULL
        );
        """
}
