import CrescentCore
import Foundation
import GRDB

/// Runs finished in one minute, split as the dashboard charts them.
public struct RunMinute: Sendable, Equatable {
    /// Start of the minute.
    public var start: Date
    /// Runs that succeeded.
    public var succeeded: Int
    /// Runs that failed, were discarded or aborted.
    public var failed: Int
    public init(start: Date, succeeded: Int, failed: Int) {
        self.start = start; self.succeeded = succeeded; self.failed = failed
    }
}

// Read-only queries for the HTTP API, the dashboard and the metrics endpoint.
extension SQLiteJobStore {
    /// Answers when the database can be queried; throws otherwise (`/healthz`).
    public func ping() throws {
        _ = try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") }
    }

    /// Runs finished per minute over the `minutes` minutes ending at `now` (oldest first,
    /// always `minutes` entries; the last one is the minute in progress).
    public func runsPerMinute(minutes: Int = 60, now: Date = Date()) throws -> [RunMinute] {
        let count = max(1, minutes)
        let end = (now.epoch / 60).rounded(.down) * 60 + 60
        let start = end - Double(count) * 60
        let rows = try read { db in
            try Row.fetchAll(db, sql: """
                SELECT CAST((finished_at - ?) / 60 AS INTEGER) AS minute, outcome, COUNT(*)
                FROM runs WHERE id >= ? AND finished_at >= ? AND finished_at < ?
                GROUP BY minute, outcome
                """, arguments: [start, try Self.firstRunID(finishedSince: start, db: db), start, end])
        }
        var buckets = (0..<count).map { RunMinute(start: dateFrom(start + Double($0) * 60), succeeded: 0, failed: 0) }
        for row in rows {
            let minute: Int = row[0]
            guard buckets.indices.contains(minute), let outcome = (row[1] as String?).flatMap(RunOutcome.init(rawValue:)) else { continue }
            let n: Int = row[2]
            switch outcome {
            case .succeeded: buckets[minute].succeeded += n
            case .failed, .discarded, .aborted: buckets[minute].failed += n
            case .snoozed, .released, .conflict: break
            }
        }
        return buckets
    }

    /// How long a finished attempt can wait for its commit at most, as far as the run
    /// windows below are concerned (a completion batch normally commits within
    /// milliseconds; one retried after database errors may wait longer).
    static let runCommitSlack: Double = 600

    /// The smallest run id that may have `finished_at >= since`. Run rows are inserted when
    /// their attempt ends, so ids follow `finished_at` up to the wait for the commit: a
    /// run whose `finished_at` is before `since - runCommitSlack` was committed before any
    /// run finished at `since`. A binary search over ids finds that boundary without an
    /// index on `finished_at` (which cost every completion an index entry).
    static func firstRunID(finishedSince since: Double, db: Database) throws -> Int64 {
        let bound = since - runCommitSlack
        let probe = try db.cachedStatement(sql: "SELECT id, finished_at FROM runs WHERE id >= ? ORDER BY id LIMIT 1")
        var low: Int64 = 0
        var high = (try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM runs") ?? 0) + 1
        while low < high {
            let mid = low + (high - low) / 2
            guard let row = try Row.fetchOne(probe, arguments: [mid]) else { high = mid; continue }
            let id: Int64 = row[0]
            let finished: Double? = row[1]
            if let finished, finished < bound { low = id + 1 } else { high = mid }
        }
        return low
    }

    /// How many jobs match the filters of `params` (its limit and offset are ignored).
    public func jobCount(_ params: JobListParams) throws -> Int {
        var clauses: [String] = []
        var args: StatementArguments = []
        if let s = params.state { clauses.append("state = ?"); args += [s.rawValue] }
        if let t = params.task { clauses.append("task = ?"); args += [t] }
        if let q = params.queue { clauses.append("queue = ?"); args += [q] }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs \(whereSQL)", arguments: args) ?? 0
        }
    }

    /// The earliest `run_at` of a due job (`queued`, or `scheduled`/`retrying` now due), per queue.
    public func oldestDuePerQueue(now: Date = Date()) throws -> [String: Date] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT queue, MIN(run_at) FROM jobs
                WHERE (state = 'scheduled' OR state = 'queued' OR state = 'retrying') AND run_at <= ?
                GROUP BY queue
                """, arguments: [now.epoch])
            var out: [String: Date] = [:]
            for row in rows { let key: String = row[0]; let at: Double = row[1]; out[key] = Date(timeIntervalSince1970: at) }
            return out
        }
    }

    public func dueQueues(now: Date = Date()) throws -> [String] {
        try read { db in
            let pending = "(state = 'scheduled' OR state = 'queued' OR state = 'retrying')"
            let due = try db.cachedStatement(sql: """
                SELECT 1 FROM jobs INDEXED BY jobs_claim WHERE queue = ? AND \(pending) AND run_at <= ? LIMIT 1
                """)
            return try Self.queueNames(in: "jobs_claim", where: pending, db: db).filter { queue in
                try Int.fetchOne(due, arguments: [queue, now.epoch]) != nil
            }
        }
    }

    /// The queue names `index` holds entries for under `condition`, in order, each found by
    /// one index seek: `queue` must be the index's first column after the equality terms of
    /// `condition` (which may use `?1`… for `arguments`).
    static func queueNames(in index: String, where condition: String, arguments: StatementArguments = [],
                           db: Database) throws -> [String] {
        try String.fetchAll(db, sql: """
            WITH RECURSIVE q(name) AS (
                SELECT (SELECT MIN(queue) FROM jobs INDEXED BY \(index) WHERE \(condition))
                UNION ALL
                SELECT (SELECT MIN(queue) FROM jobs INDEXED BY \(index) WHERE \(condition) AND queue > q.name)
                FROM q WHERE q.name IS NOT NULL)
            SELECT name FROM q WHERE name IS NOT NULL
            """, arguments: arguments)
    }

    /// Distinct task names and queue names that have jobs, sorted (filter menus).
    public func jobTasksAndQueues() throws -> (tasks: [String], queues: [String]) {
        try read { db in
            let tasks = try String.fetchAll(db, sql: "SELECT DISTINCT task FROM jobs ORDER BY task")
            let queues = try String.fetchAll(db, sql: "SELECT DISTINCT queue FROM jobs ORDER BY queue")
            return (tasks, queues)
        }
    }
}
