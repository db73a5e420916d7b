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
    /// Answers when the database can be queried; throws otherwise (`/healthz`). On a
    /// connection of its own, opened for the check: it never waits for one of the pool's
    /// readers, which dashboard requests may all hold.
    public func ping() throws {
        do {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(1)
            config.label = "crescent.health"
            let connection = try DatabaseQueue(path: path, configuration: config)
            defer { try? connection.close() }
            _ = try connection.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_master") }
        } catch {
            throw Self.wrap(error, path: path)
        }
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

    /// How many jobs match the filters of `params` (its limit and offset are ignored). By
    /// state (and queue): finished jobs from `job_counts`, the others from the partial index
    /// that holds that state, so a count reads only the entries it counts; without a state,
    /// the sum of those; by task (no index), from the rows of that state or of the whole table.
    public func jobCount(_ params: JobListParams) throws -> Int {
        if params.search != nil { return try countRows(params) }
        guard let state = params.state, !(state.isFinal && params.task == nil) else {
            guard params.task == nil else { return try countRows(params) }
            return try jobCounts().total(state: params.state, queue: params.queue)
        }
        var clauses: [String]
        let index: String
        switch state {
        case .queued: index = "jobs_claim"; clauses = ["state = 'queued'"]
        case .scheduled, .retrying: index = "jobs_waiting"; clauses = [Self.waiting, "state = ?"]
        case .running: index = "jobs_running"; clauses = ["state = 'running'"]
        case .succeeded, .dead, .cancelled, .expired: index = "jobs_finished"; clauses = ["state = ?", "finished_at IS NOT NULL"]
        }
        var args: StatementArguments = clauses.contains("state = ?") ? [state.rawValue] : []
        if let q = params.queue { clauses.append("queue = ?"); args += [q] }
        if let t = params.task { clauses.append("task = ?"); args += [t] }
        let sql = "SELECT COUNT(*) FROM jobs INDEXED BY \(index) WHERE " + clauses.joined(separator: " AND ")
        return try read { db in try Int.fetchOne(db.cachedStatement(sql: sql), arguments: args) ?? 0 }
    }

    private func countRows(_ params: JobListParams) throws -> Int {
        var clauses: [String] = []
        var args: StatementArguments = []
        if let t = params.task { clauses.append("task = ?"); args += [t] }
        if let q = params.queue { clauses.append("queue = ?"); args += [q] }
        if let st = params.state { clauses.append("state = ?"); args += [st.rawValue] }
        if let text = params.search { clauses.append(Self.searchClause); args += [text, text] }
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

    public func queuedTaskCounts() throws -> [String: Int] {
        try read { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT task, COUNT(*) FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' GROUP BY task") {
                out[row[0]] = row[1]
            }
            return out
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

    /// The queue names that have jobs, sorted (filter menus): one index seek per queue in
    /// each of the partial indexes that together hold every job, never a scan.
    public func jobQueueNames() throws -> [String] {
        try read { db in
            var names = Set(try Self.queueNames(in: "jobs_claim", where: "state = 'queued'", db: db))
            names.formUnion(try Self.queueNames(in: "jobs_running", where: "state = 'running'", db: db))
            names.formUnion(try Self.queueNames(in: "jobs_waiting", where: Self.waiting, db: db))
            for state in JobState.allCases where state.isFinal {
                names.formUnion(try Self.queueNames(in: "jobs_finished", where: "state = ?1 AND finished_at IS NOT NULL",
                                                    arguments: [state.rawValue], db: db))
            }
            return names.sorted()
        }
    }

    // MARK: counts

    /// Jobs still to run from the partial indexes that hold them (queued and waiting jobs
    /// from their index entries alone, the few running ones through their rows); finished
    /// jobs from `job_counts`.
    public func jobCounts() throws -> [QueueStateCount] {
        try read { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT queue, 'queued', COUNT(*) FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' GROUP BY queue
                UNION ALL
                SELECT queue, state, COUNT(*) FROM jobs INDEXED BY jobs_waiting
                WHERE (state = 'scheduled' OR state = 'retrying') GROUP BY queue, state
                UNION ALL
                SELECT queue, 'running', COUNT(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' GROUP BY queue
                """))
            let pending: [QueueStateCount] = rows.compactMap { row in
                guard let state = JobState(rawValue: row[1]) else { return nil }
                return QueueStateCount(queue: row[0], state: state, count: row[2])
            }
            // In queue and state order, byte-wise (as SQLite's ORDER BY and PostgreSQL's "C").
            return (pending + (try Self.finalCounts(db: db))).sorted {
                $0.queue != $1.queue ? $0.queue.utf8.lexicographicallyPrecedes($1.queue.utf8)
                    : $0.state.rawValue.utf8.lexicographicallyPrecedes($1.state.rawValue.utf8)
            }
        }
    }

    /// From `run_seconds`: whole seconds, from the one `since` falls in.
    public func runCounts(since: Date) throws -> [RunOutcome: Int] {
        try read { db in
            let stmt = try db.cachedStatement(sql: "SELECT outcome, SUM(n) FROM run_seconds WHERE second >= ? GROUP BY outcome")
            var counts: [RunOutcome: Int] = [:]
            for row in try Row.fetchAll(stmt, arguments: [since.epoch.rounded(.down)]) {
                if let o = (row[0] as String?).flatMap(RunOutcome.init(rawValue:)) { counts[o] = row[1] }
            }
            return counts
        }
    }

    public func oldestDue(now: Date) throws -> Date? {
        try oldestDuePerQueue(now: now).values.min()
    }

    /// The earliest `run_at` among `scheduled`/`retrying` jobs of these queues (it may
    /// already be past: such a job is due now). Nil when there is none. Seeks only.
    public func nextDue(queues: [String]) throws -> Date? {
        if queues.isEmpty { return nil }
        return try read { db in
            var best: Double?
            for q in queues {
                if let v = try Self.firstWaiting(queue: q, db: db) { best = min(best ?? v, v) }
            }
            return dateFrom(best)
        }
    }

    /// The earliest `run_at` of `queue`'s waiting jobs, by two seeks on `jobs_waiting`.
    static func firstWaiting(queue: String, db: Database) throws -> Double? {
        let stmt = try db.cachedStatement(sql: """
            SELECT MIN(at) FROM (
                SELECT MIN(run_at) AS at FROM jobs INDEXED BY jobs_waiting WHERE queue = ?1 AND \(waiting) AND state = 'scheduled'
                UNION ALL
                SELECT MIN(run_at) FROM jobs INDEXED BY jobs_waiting WHERE queue = ?1 AND \(waiting) AND state = 'retrying')
            """)
        return try Double.fetchOne(stmt, arguments: [queue])
    }
}
