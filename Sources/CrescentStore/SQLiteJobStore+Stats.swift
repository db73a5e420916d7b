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
        let rows = try read { db in try Self.runTallies(from: start, to: end, db: db) }
        var buckets = (0..<count).map { RunMinute(start: dateFrom(start + Double($0) * 60), succeeded: 0, failed: 0) }
        for row in rows {
            let minute = Int((Double(row.second) - start) / 60)
            guard buckets.indices.contains(minute), let outcome = RunOutcome(rawValue: row.outcome) else { continue }
            switch outcome {
            case .succeeded: buckets[minute].succeeded += row.n
            case .failed, .discarded, .aborted: buckets[minute].failed += row.n
            case .snoozed, .released, .conflict: break
            }
        }
        return buckets
    }

    /// Adds `n` finished attempts of `outcome` to the second `second` (`HotStatements`).
    static let runTallySQL = """
        INSERT INTO run_seconds (second, outcome, n) VALUES (?, ?, ?)
        ON CONFLICT (second, outcome) DO UPDATE SET n = n + excluded.n
        """

    /// How long `run_seconds` rows are kept (the longest window read is an hour).
    static let runTallyKeep: Double = 7200

    /// Finished attempts per outcome in the seconds from `from` (rounded down) to `to`.
    static func runTallies(from: Double, to: Double, db: Database) throws -> [(second: Int64, outcome: String, n: Int)] {
        let stmt = try db.cachedStatement(sql: "SELECT second, outcome, n FROM run_seconds WHERE second >= ? AND second < ?")
        return try Row.fetchAll(stmt, arguments: [Int64(from.rounded(.down)), Int64(to.rounded(.up))]).map { ($0[0], $0[1], $0[2]) }
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

    /// The earliest `run_at` of a due job (`queued`, or `scheduled`/`retrying` now due but
    /// not yet staged), per queue. Queued jobs are due work, read from `jobs_claim`'s
    /// entries; waiting ones by one seek per queue (never the jobs due later).
    public func oldestDuePerQueue(now: Date = Date()) throws -> [String: Date] {
        try read { db in
            var out: [String: Double] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT queue, MIN(run_at) FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' AND run_at <= ? GROUP BY queue
                """, arguments: [now.epoch])
            for row in rows { out[row[0]] = row[1] }
            for queue in try Self.queueNames(in: "jobs_waiting", where: Self.waiting, db: db) {
                if let at = try Self.firstWaiting(queue: queue, db: db), at <= now.epoch { out[queue] = min(out[queue] ?? at, at) }
            }
            return out.mapValues { Date(timeIntervalSince1970: $0) }
        }
    }

    /// The condition of `jobs_waiting`.
    static let waiting = "(state = 'scheduled' OR state = 'retrying')"

    /// Queues with a queued job, or a waiting one now due: index seeks only.
    public func dueQueues(now: Date = Date()) throws -> [String] {
        try read { db in
            var names = Set(try Self.queueNames(in: "jobs_claim", where: "state = 'queued'", db: db))
            for queue in try Self.queueNames(in: "jobs_waiting", where: Self.waiting, db: db) where !names.contains(queue) {
                if let at = try Self.firstWaiting(queue: queue, db: db), at <= now.epoch { names.insert(queue) }
            }
            return names.sorted()
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
