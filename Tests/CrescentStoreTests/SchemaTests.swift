import CrescentCore
@testable import CrescentStore
import Foundation
import GRDB
import Testing

@Suite("SQLiteJobStore: schema and connection settings", .enabled(if: TestStore.isSQLite, "SQLite only: its file, pragmas and migrations"))
struct SchemaTests {
    func pragma(_ store: SQLiteJobStore, _ name: String) throws -> String? {
        try store.pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    @Test func durabilitySettingsAndConnectionPragmas() throws {
        let db = try TempDatabase()
        let normal = try db.openSQLite(.normal)
        #expect(try pragma(normal, "journal_mode") == "wal")
        #expect(try pragma(normal, "synchronous") == "1")
        #expect(try pragma(normal, "foreign_keys") == "1")
        #expect(try pragma(normal, "busy_timeout") == "5000")
        let full = try db.openSQLite(.full)
        #expect(try pragma(full, "synchronous") == "2")
        #expect(SQLiteJobStore.Durability(rawValue: "full") == .full)
    }

    /// The WAL is checkpointed off the commit path once past 1,000 pages, and by the
    /// committing connection itself past 2,000, so it stays bounded under a busy writer.
    @Test func walCheckpointsInTheBackgroundAndStaysBounded() throws {
        let db = try TempDatabase()
        let store = try db.openSQLite()
        #expect(try pragma(store, "wal_autocheckpoint") == "0")
        func size(_ path: String) -> Int {
            ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int) ?? 0
        }
        let args = #"{"pad":"\#(String(repeating: "x", count: 2000))"}"#
        let before = size(db.path)
        // One commit of ~1,300 pages: past the first mark, short of the second.
        _ = try store.jobInsertMany((0..<2400).map { _ in job(args: args) })
        let deadline = Date().addingTimeInterval(10)
        while size(db.path) < before + 4_000_000 && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(size(db.path) >= before + 4_000_000, "the background checkpoint copied the pages back")

        // A writer that never pauses: ~7,800 pages in 60 commits; the WAL file stays within
        // 2,000 pages plus a commit (and the first commit's 1,300 pages at the start of it).
        for _ in 0..<60 { _ = try store.jobInsertMany((0..<240).map { _ in job(args: args) }) }
        #expect(size(db.path + "-wal") < 2600 * 4120)
    }

    @Test func migrationsAreRecordedAndIdempotent() throws {
        let db = try TempDatabase()
        let store = try db.openSQLite()
        let applied = try store.pool.read { db in try SQLiteJobStore.migrator.appliedIdentifiers(db) }
        #expect(Set(applied) == ["v1", "v2", "v3", "job-progress", "tasks-version", "schedule-ids", "job-counts", "process-vitals-lost"])
        // Opening again applies nothing and keeps the data.
        let id = try store.jobInsert(job()).id
        #expect(try db.openSQLite().jobGet(id: id) != nil)
    }

    @Test func aVersion1DatabaseIsUpgradedWithItsJobs() throws {
        let db = try TempDatabase()
        // A database as the first release left it: v1 only, one job running, one finished.
        let v1 = try DatabasePool(path: db.path)
        try SQLiteJobStore.migrator.migrate(v1, upTo: "v1")
        try v1.write { db in
            try db.execute(sql: """
                INSERT INTO jobs (id, task, queue, state, max_attempts, run_at, created_at, attempt, lease_owner, started_at)
                VALUES (1, 't', 'default', 'running', 3, 1, 1, 1, 'gone', 1);
                INSERT INTO jobs (id, task, queue, state, max_attempts, run_at, created_at, finished_at)
                VALUES (2, 't', 'default', 'succeeded', 3, 1, 1, 2);
                """)
        }
        try v1.close()
        let store = try db.openSQLite()
        let applied = try store.pool.read { db in try SQLiteJobStore.migrator.appliedIdentifiers(db) }
        #expect(Set(applied) == ["v1", "v2", "v3", "job-progress", "tasks-version", "schedule-ids", "job-counts", "process-vitals-lost"])
        #expect(try store.jobGet(id: 2)?.state == .succeeded)
        // The running job of a process that is gone is found through the new index and rescued.
        let view = try store.leaseView()
        var stale: [String: Double?] = [:]
        for owner in view.runningOwners { stale.updateValue(view.heartbeats[owner], forKey: owner) }
        #expect(try store.jobRescue(stale: stale, retryAt: { _ in nil }) == [1])
        #expect(try store.jobGet(id: 1)?.state == .dead)
        #expect(try store.jobRuns(id: 1).map(\.outcome) == [.aborted])
    }

    /// A version 2 database keeps its jobs: due `scheduled`/`retrying` jobs are claimed
    /// (staged on the way), jobs due later wait, counts and the last hour's runs carry over.
    @Test func aVersion2DatabaseIsUpgradedWithItsJobs() throws {
        let db = try TempDatabase()
        let v2 = try DatabasePool(path: db.path)
        try SQLiteJobStore.migrator.migrate(v2, upTo: "v2")
        let now = Date().timeIntervalSince1970
        try v2.write { db in
            try db.execute(sql: """
                INSERT INTO jobs (id, task, queue, priority, state, max_attempts, run_at, created_at, attempt)
                VALUES (1, 't', 'default', 9, 'scheduled', 3, ?1 + 3600, ?1, 0),
                       (2, 't', 'default', 0, 'retrying', 3, ?1 - 5, ?1, 1),
                       (3, 't', 'default', 0, 'queued', 3, ?1 - 1, ?1, 0),
                       (4, 't', 'default', 5, 'scheduled', 3, ?1 - 2, ?1, 0),
                       (5, 't', 'default', 0, 'succeeded', 3, ?1 - 9, ?1, 1)
                """, arguments: [now])
            try db.execute(sql: "UPDATE jobs SET finished_at = ? - 8 WHERE id = 5", arguments: [now])
            try db.execute(sql: """
                INSERT INTO runs (job_id, attempt, started_at, finished_at, outcome, worker)
                VALUES (5, 1, ?1 - 9, ?1 - 8, 'succeeded', 'w'), (2, 1, ?1 - 20, ?1 - 19, 'failed', 'w'),
                       (2, 1, ?1 - 7300, ?1 - 7200, 'failed', 'w');
                """, arguments: [now])
        }
        try v2.close()
        let store = try db.openSQLite()
        let applied = try store.pool.read { db in try SQLiteJobStore.migrator.appliedIdentifiers(db) }
        #expect(Set(applied) == ["v1", "v2", "v3", "job-progress", "tasks-version", "schedule-ids", "job-counts", "process-vitals-lost"])
        let counts = Dictionary(try store.jobCounts().map { ($0.state, $0.count) }, uniquingKeysWith: +)
        #expect(counts == [.scheduled: 2, .retrying: 1, .queued: 1, .succeeded: 1])
        #expect(try store.runCounts(since: Date().addingTimeInterval(-3600)) == [.succeeded: 1, .failed: 1])
        #expect(try store.dueQueues(now: Date()) == ["default"])
        let claimed = try store.jobClaim(JobClaimParams(queue: "default", limit: 10, worker: "w", now: Date()))
        #expect(claimed.map(\.id) == [4, 2, 3], "due jobs in claim order; the one due in an hour waits")
        #expect(try store.jobGet(id: 1)?.state == .scheduled)
        #expect(try store.nextDue(queues: ["default"]).map { abs($0.timeIntervalSince1970 - now - 3600) < 0.01 } == true)
    }

    @Test func hotQueriesUseTheirIndexes() throws {
        let db = try TempDatabase()
        try withExtendedLifetime(db) {
            let store = try db.openSQLite()
            func plan(_ sql: String) throws -> String {
                try store.pool.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ")
                }
            }
            let waiting = "(state = 'scheduled' OR state = 'retrying')"
            let active = "(state = 'scheduled' OR state = 'queued' OR state = 'running' OR state = 'retrying')"
            // The claim reads queued jobs only, from the start of its queue's entries.
            let claim = try plan("SELECT id FROM jobs INDEXED BY jobs_claim WHERE queue = 'q' AND state = 'queued' AND run_at <= 1 ORDER BY priority DESC, run_at, id LIMIT 5")
            #expect(claim.contains("jobs_claim (queue=?)") && !claim.contains("TEMP B-TREE"), "\(claim)")
            // The stager seeks the queue's waiting jobs by due time.
            let stage = try plan("""
                SELECT id FROM jobs INDEXED BY jobs_waiting
                WHERE queue = 'q' AND \(waiting) AND state = 'retrying' AND run_at <= 1 ORDER BY run_at LIMIT 5
                """)
            #expect(stage.contains("jobs_waiting (queue=? AND state=? AND run_at<?)") && !stage.contains("TEMP B-TREE"), "\(stage)")
            let unique = try plan("SELECT id FROM jobs WHERE unique_key = 'k' AND unique_key IS NOT NULL AND \(active)")
            #expect(unique.contains("jobs_unique_active"), "\(unique)")
            let prune = try plan("""
                SELECT id FROM jobs INDEXED BY jobs_finished
                WHERE state = 'succeeded' AND queue = 'q' AND finished_at < 1 AND finished_at IS NOT NULL LIMIT 5
                """)
            #expect(prune.contains("jobs_finished (state=? AND queue=? AND finished_at"), "\(prune)")
            let counts = try plan("""
                SELECT queue, 'queued', COUNT(*) FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' GROUP BY queue
                UNION ALL SELECT queue, state, COUNT(*) FROM jobs INDEXED BY jobs_waiting WHERE \(waiting) GROUP BY queue, state
                UNION ALL SELECT queue, 'running', COUNT(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' GROUP BY queue
                UNION ALL SELECT queue, state, COUNT(*) FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL GROUP BY state, queue
                """)
            // Pending and finished jobs, nearly all of them, are counted from their indexes
            // alone; the few running ones through theirs.
            #expect(counts.contains("COVERING INDEX jobs_claim") && counts.contains("COVERING INDEX jobs_waiting")
                    && counts.contains("COVERING INDEX jobs_finished") && counts.contains("INDEX jobs_running"), "\(counts)")
            let cancels = try plan("SELECT id FROM jobs WHERE state = 'running' AND lease_owner = 'p' AND cancel_requested = 1 ORDER BY id")
            #expect(cancels.contains("jobs_running"), "\(cancels)")
            let next = try plan("SELECT MIN(run_at) FROM jobs INDEXED BY jobs_waiting WHERE queue = 'q' AND \(waiting) AND state = 'scheduled'")
            #expect(next.contains("SEARCH jobs USING COVERING INDEX jobs_waiting (queue=? AND state=?)"), "\(next)")
            let tallies = try plan("SELECT outcome, SUM(n) FROM run_seconds WHERE second >= 1 GROUP BY outcome")
            #expect(tallies.contains("PRIMARY KEY (second>?)"), "\(tallies)")
        }
    }
}
