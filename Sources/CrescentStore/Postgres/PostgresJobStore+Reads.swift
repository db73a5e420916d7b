import CrescentCore
import Foundation

// Reading jobs: one job, its runs, listings and counts (SQLite's in SQLiteJobStore+Jobs.swift
// and +Stats.swift). Every state condition is written out in the SQL text, never bound: the
// planner uses a partial index only when the query's own text implies the index's condition,
// and a prepared statement's generic plan knows nothing of bound values.
extension PostgresJobStore {
    /// The columns of a `Job`, in the order `readJob` reads them.
    static let jobReadColumns = """
        id, task, queue, priority, state, args, attempt, max_attempts, result, error, \
        unique_key, scheduled_for, run_at, created_at, finished_at, progress
        """

    /// Reads a `Job` from row `row` of a result selected with `jobReadColumns` (from `column`).
    static func readJob(_ r: PGResult, _ row: Int, from column: Int = 0) -> Job {
        let c = column
        return Job(
            id: r.int64(row, c), task: r.string(row, c + 1), queue: r.string(row, c + 2), priority: r.int(row, c + 3),
            state: JobState(rawValue: r.string(row, c + 4)) ?? .dead,
            args: r.string(row, c + 5), attempt: r.int(row, c + 6), maxAttempts: r.int(row, c + 7),
            result: r.stringOrNil(row, c + 8), error: r.stringOrNil(row, c + 9), uniqueKey: r.stringOrNil(row, c + 10),
            scheduledFor: dateFrom(r.doubleOrNil(row, c + 11)), runAt: dateFrom(r.double(row, c + 12)),
            createdAt: dateFrom(r.double(row, c + 13)), finishedAt: dateFrom(r.doubleOrNil(row, c + 14)),
            progress: JobProgress.fromStored(r.stringOrNil(row, c + 15)))
    }

    /// The condition of `jobs_waiting` (jobs due later).
    static let waitingStates = "state IN ('scheduled', 'retrying')"

    /// The condition under which `state`'s jobs are in their partial index, with the index:
    /// `jobs_claim` (queued), `jobs_waiting` (scheduled, retrying), `jobs_running`,
    /// `jobs_finished` (the final states). Literal SQL (a state is one of a closed set).
    static func stateCondition(_ state: JobState) -> String {
        switch state {
        case .queued: return "state = 'queued'"
        case .scheduled, .retrying: return "\(waitingStates) AND state = '\(state.rawValue)'"
        case .running: return "state = 'running'"
        case .succeeded, .dead, .cancelled, .expired: return "state = '\(state.rawValue)' AND finished_at IS NOT NULL"
        }
    }

    public func jobGet(id: Int64) throws -> Job? {
        try read { conn in
            let r = try conn.query("SELECT \(Self.jobReadColumns) FROM \(s)jobs WHERE id = $1", [id])
            return r.count == 0 ? nil : Self.readJob(r, 0)
        }
    }

    /// Finished attempts in order, then the attempt in progress (from the job row) if any.
    public func jobRuns(id: Int64) throws -> [JobRun] {
        try read { conn in
            let r = try conn.query("""
                SELECT job_id, attempt, started_at, finished_at, outcome, error, traceback, worker, id AS n
                FROM \(s)runs WHERE job_id = $1
                UNION ALL
                SELECT id, attempt, started_at, NULL, NULL, NULL, NULL, COALESCE(lease_owner, ''), 9223372036854775807
                FROM \(s)jobs WHERE id = $1 AND state = 'running'
                ORDER BY n
                """, [id])
            return (0..<r.count).map { i in
                JobRun(jobID: r.int64(i, 0), attempt: r.int(i, 1), startedAt: dateFrom(r.doubleOrNil(i, 2) ?? 0),
                       finishedAt: dateFrom(r.doubleOrNil(i, 3)), outcome: r.stringOrNil(i, 4).flatMap(RunOutcome.init(rawValue:)),
                       error: r.stringOrNil(i, 5), traceback: r.stringOrNil(i, 6), worker: r.string(i, 7))
            }
        }
    }

    /// Whether a lookup value holds a NUL character, which no stored text can: such a
    /// filter matches nothing (PostgreSQL would refuse the value rather than compare it).
    static func unstorable(_ values: String?...) -> Bool {
        values.contains { $0?.utf8.contains(0) ?? false }
    }

    /// Newest first. With a state, its condition is written out, so the planner may read
    /// that state's partial index instead of walking the whole table by id.
    public func jobList(_ params: JobListParams) throws -> [Job] {
        if Self.unstorable(params.task, params.queue) { return [] }
        var clauses: [String] = []
        var args: [PGBind?] = []
        if let state = params.state { clauses.append(Self.stateCondition(state)) }
        if let t = params.task { args.append(t); clauses.append("task = $\(args.count)") }
        if let q = params.queue { args.append(q); clauses.append("queue = $\(args.count)") }
        if let text = params.search { args.append(text); clauses.append(Self.searchClause(args.count)) }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        args.append(max(params.limit, 0))
        args.append(max(params.offset, 0))
        let sql = """
            SELECT \(Self.jobReadColumns) FROM \(s)jobs \(whereSQL)
            ORDER BY id DESC LIMIT $\(args.count - 1) OFFSET $\(args.count)
            """
        return try read { conn in
            let r = try conn.query(sql, args)
            return (0..<r.count).map { Self.readJob(r, $0) }
        }
    }

    // MARK: counts

    /// Jobs still to run from the partial indexes that hold them (queued and waiting jobs
    /// from their index entries alone, the few running ones through their rows); finished
    /// jobs from `job_counts`. Ordered by queue and state, byte-wise (as SQLite's).
    public func jobCounts() throws -> [QueueStateCount] {
        try indexedRead { conn in
            let r = try conn.query("""
                SELECT queue, state, n FROM (
                    SELECT queue, 'queued' AS state, COUNT(*) AS n FROM \(s)jobs WHERE state = 'queued' GROUP BY queue
                    UNION ALL
                    SELECT queue, state, COUNT(*) FROM \(s)jobs WHERE \(Self.waitingStates) GROUP BY queue, state
                    UNION ALL
                    SELECT queue, 'running', COUNT(*) FROM \(s)jobs WHERE state = 'running' GROUP BY queue
                    UNION ALL
                    \(finalCountsSQL)
                ) AS counts
                ORDER BY queue COLLATE "C", state COLLATE "C"
                """)
            return (0..<r.count).compactMap { i in
                guard let state = JobState(rawValue: r.string(i, 1)) else { return nil }
                return QueueStateCount(queue: r.string(i, 0), state: state, count: r.int(i, 2))
            }
        }
    }

    /// How many jobs match the filters of `params` (its limit and offset are ignored). By
    /// state (and queue): finished jobs from `job_counts`, the others from the partial index
    /// that holds that state; without a state,
    /// the sum of `jobCounts`; by task alone (no index), from the whole table.
    public func jobCount(_ params: JobListParams) throws -> Int {
        if Self.unstorable(params.task, params.queue) { return 0 }
        if params.search != nil { return try countRows(params) }
        guard let state = params.state, !(state.isFinal && params.task == nil) else {
            guard params.task == nil else { return try countRows(params) }
            return try jobCounts().total(state: params.state, queue: params.queue)
        }
        var clauses = [Self.stateCondition(state)]
        var args: [PGBind?] = []
        if let q = params.queue { args.append(q); clauses.append("queue = $\(args.count)") }
        if let t = params.task { args.append(t); clauses.append("task = $\(args.count)") }
        let sql = "SELECT COUNT(*) FROM \(s)jobs WHERE " + clauses.joined(separator: " AND ")
        return try indexedRead { conn in try conn.query(sql, args).int(0, 0) }
    }

    /// Runs `body` in a read-only transaction whose statements avoid sequential scans where
    /// an index serves: counts over most of the table (finished jobs, a large backlog) would
    /// otherwise often be planned as a scan of every row, which reads every dead row version
    /// too, where SQLite's counts read the partial index. The setting ends with the
    /// transaction (each statement run here is planned with it). JIT compilation goes off
    /// with it: a plan priced with the penalty of a scan it could not avoid passes every JIT
    /// threshold, and compiling took seconds (measured: 2.9 s for a 30 ms count).
    func indexedRead<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try write { conn in
            try conn.execute("SET TRANSACTION READ ONLY; SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
            return try body(conn)
        }
    }

    private func countRows(_ params: JobListParams) throws -> Int {
        var clauses: [String] = []
        var args: [PGBind?] = []
        if let t = params.task { args.append(t); clauses.append("task = $\(args.count)") }
        if let q = params.queue { args.append(q); clauses.append("queue = $\(args.count)") }
        if let state = params.state { clauses.append(Self.stateCondition(state)) }
        if let text = params.search { args.append(text); clauses.append(Self.searchClause(args.count)) }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return try read { conn in try conn.query("SELECT COUNT(*) FROM \(s)jobs \(whereSQL)", args).int(0, 0) }
    }

    /// Queued jobs per task name, read from the queued jobs only (`jobs_claim`).
    public func queuedTaskCounts() throws -> [String: Int] {
        try read { conn in
            let r = try conn.query("SELECT task, COUNT(*) FROM \(s)jobs WHERE state = 'queued' GROUP BY task")
            var out: [String: Int] = [:]
            for i in 0..<r.count { out[r.string(i, 0)] = r.int(i, 1) }
            return out
        }
    }

    // MARK: queue names

    /// A recursive query naming `name`: the queue names the partial index whose condition is
    /// `condition` holds, in index order, each found by one index seek (a loose index scan:
    /// `queue` must follow the equality terms of `condition` in the index).
    func queueNamesCTE(_ name: String, where condition: String) -> String {
        """
        \(name)(name) AS (
            SELECT (SELECT MIN(queue) FROM \(s)jobs WHERE \(condition))
            UNION ALL
            SELECT (SELECT MIN(queue) FROM \(s)jobs WHERE \(condition) AND queue > \(name).name)
            FROM \(name) WHERE \(name).name IS NOT NULL)
        """
    }

    /// The queue names that have jobs, sorted (filter menus): one index seek per queue in
    /// each partial index that holds pending or finished jobs, and the few running jobs'
    /// rows; never a scan of the finished jobs.
    public func jobQueueNames() throws -> [String] {
        let finals = JobState.allCases.filter(\.isFinal)
        var ctes = [queueNamesCTE("claim", where: "state = 'queued'"), queueNamesCTE("waiting", where: Self.waitingStates)]
        var parts = ["SELECT name FROM claim", "SELECT name FROM waiting"]
        for state in finals {
            ctes.append(queueNamesCTE("f_\(state.rawValue)", where: Self.stateCondition(state)))
            parts.append("SELECT name FROM f_\(state.rawValue)")
        }
        parts.append("SELECT DISTINCT queue FROM \(s)jobs WHERE state = 'running'")
        let sql = "WITH RECURSIVE " + ctes.joined(separator: ",\n") + "\nSELECT name FROM (\n"
            + parts.joined(separator: "\nUNION\n") + "\n) AS names WHERE name IS NOT NULL"
        return try read { conn in
            let r = try conn.query(sql)
            return (0..<r.count).map { r.string($0, 0) }.sorted()
        }
    }
}
