import CrescentCore
import Foundation
import GRDB

extension SQLiteJobStore {
    /// The columns of a `Job`, in the order `job(from:)` reads them.
    static let jobColumns = """
        id, task, queue, priority, state, args, attempt, max_attempts, result, error, \
        unique_key, scheduled_for, run_at, created_at, finished_at, progress
        """

    /// Reads a `Job` from a row selected (or returned) with `jobColumns`.
    static func job(from row: Row) -> Job {
        let stateText: String = row[4]
        return Job(
            id: row[0], task: row[1], queue: row[2], priority: row[3],
            state: JobState(rawValue: stateText) ?? .dead,
            args: row[5], attempt: row[6], maxAttempts: row[7], result: row[8], error: row[9],
            uniqueKey: row[10], scheduledFor: dateFrom(row[11] as Double?), runAt: dateFrom(row[12] as Double),
            createdAt: dateFrom(row[13] as Double), finishedAt: dateFrom(row[14] as Double?),
            progress: JobProgress.fromStored(row[15] as String?))
    }

    /// What a claim reads: the columns of a `Job` it does not already know (it is `running`
    /// in `queue`, not finished, without a result), with the attempt it is about to start.
    static let claimColumns = """
        id, task, priority, args, attempt + 1, max_attempts, error, unique_key, scheduled_for, run_at, created_at
        """

    /// Reads a claimed `Job` from a row read with `claimColumns`.
    static func claimedJob(from raw: RawStatement, queue: String) -> Job {
        Job(
            id: raw.int64(0), task: raw.string(1), queue: queue, priority: raw.int(2), state: .running,
            args: raw.string(3), attempt: raw.int(4), maxAttempts: raw.int(5), error: raw.stringOrNil(6),
            uniqueKey: raw.stringOrNil(7), scheduledFor: dateFrom(raw.doubleOrNil(8)), runAt: dateFrom(raw.double(9)),
            createdAt: dateFrom(raw.double(10)))
    }

    // MARK: insert

    /// Inserts one job inside the current write transaction, honouring its unique key
    /// (active duplicates and `uniquePeriod`) and its schedule occurrence.
    static func insert(_ p: JobInsertParams, now: Date, in hot: HotStatements) throws -> JobInsertResult {
        let db = hot.db
        let state: JobState = p.runAt > now ? .scheduled : .queued
        if p.uniqueKey == nil && p.scheduledFor == nil {
            // The common case, bound straight into the prepared statement.
            let raw = try hot.insert()
            bindPlain(p, now: now, to: raw, at: 0)
            try raw.run()
            return JobInsertResult(id: db.lastInsertedRowID, duplicate: false)
        }
        let args: StatementArguments = [
            p.id, p.task, p.queue, p.priority, state.rawValue, p.args, p.maxAttempts,
            p.uniqueKey, p.uniqueKey == nil ? nil : p.uniquePeriod, p.scheduledFor?.occurrenceEpoch,
            p.runAt.epoch, now.epoch, p.expiresAt?.epoch, p.schedule,
        ]
        if let key = p.uniqueKey, let period = p.uniquePeriod,
           let existing = try findUnique(key: key, period: period, now: now, db: db) {
            return JobInsertResult(id: existing, duplicate: true)
        }
        let stmt = try db.cachedStatement(sql: insertKeyedSQL + " ON CONFLICT DO NOTHING")
        try stmt.execute(arguments: args)
        if db.changesCount == 1 {
            return JobInsertResult(id: db.lastInsertedRowID, duplicate: false)
        }
        if let key = p.uniqueKey, let existing = try findUnique(key: key, period: nil, now: now, db: db) {
            return JobInsertResult(id: existing, duplicate: true)
        }
        if let at = p.scheduledFor {
            let find = try db.cachedStatement(sql: "SELECT id FROM jobs WHERE task = ? AND schedule = ? AND scheduled_for = ?")
            if let existing = try Int64.fetchOne(find, arguments: [p.task, p.schedule, at.occurrenceEpoch]) {
                return JobInsertResult(id: existing, duplicate: true)
            }
        }
        // Ignored for another reason (a reserved id already used): let SQLite say why.
        try db.cachedStatement(sql: insertKeyedSQL).execute(arguments: args)
        return JobInsertResult(id: db.lastInsertedRowID, duplicate: false)
    }

    /// Binds a job without unique key or occurrence as row `row` of an insert statement.
    @inline(__always)
    static func bindPlain(_ p: JobInsertParams, now: Date, to raw: RawStatement, at row: Int32) {
        let base = row * 13
        raw.bind(base + 1, p.id)
        raw.bind(base + 2, p.task)
        raw.bind(base + 3, p.queue)
        raw.bind(base + 4, p.priority)
        raw.bind(base + 5, (p.runAt > now ? JobState.scheduled : .queued).rawValue)
        raw.bind(base + 6, p.args)
        raw.bind(base + 7, p.maxAttempts)
        raw.bind(base + 8, nil as String?)
        raw.bind(base + 9, nil as Double?)
        raw.bind(base + 10, nil as Double?)
        raw.bind(base + 11, p.runAt.epoch)
        raw.bind(base + 12, now.epoch)
        raw.bind(base + 13, p.expiresAt?.epoch)
    }

    /// Inserts jobs in order inside the current write transaction. Runs of plain jobs with
    /// reserved ids (`queue.push`) go `insertChunk` rows per statement: SQLite's work per
    /// statement (its start and end, AUTOINCREMENT's bookkeeping) was most of the cost of
    /// a one-row insert.
    static func insertAll(_ params: [JobInsertParams], now: Date, in hot: HotStatements) throws -> [JobInsertResult] {
        var results: [JobInsertResult] = []
        results.reserveCapacity(params.count)
        func chunkable(_ p: JobInsertParams) -> Bool { p.id != nil && p.uniqueKey == nil && p.scheduledFor == nil }
        var i = 0
        while i < params.count {
            let end = i + insertChunk
            if end <= params.count, params[i..<end].allSatisfy(chunkable) {
                let raw = try hot.insertChunk()
                for (row, p) in params[i..<end].enumerated() { bindPlain(p, now: now, to: raw, at: Int32(row)) }
                try raw.run()
                for p in params[i..<end] { results.append(JobInsertResult(id: p.id!, duplicate: false)) }
                i = end
            } else {
                results.append(try insert(params[i], now: now, in: hot))
                i += 1
            }
        }
        return results
    }

    static let insertChunk = 16

    static let insertPrefix = """
        INSERT INTO jobs (id, task, queue, priority, state, args, attempt, max_attempts, unique_key,
                          unique_period, scheduled_for, run_at, created_at, expires_at)
        VALUES
        """
    static let insertRow = "(?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)"
    static let insertSQL = insertPrefix + " " + insertRow
    /// One job with a unique key or an occurrence (its schedule's id too).
    static let insertKeyedSQL = """
        INSERT INTO jobs (id, task, queue, priority, state, args, attempt, max_attempts, unique_key,
                          unique_period, scheduled_for, run_at, created_at, expires_at, schedule)
        VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    static let insertChunkSQL = insertPrefix + " " + Array(repeating: insertRow, count: insertChunk).joined(separator: ", ")

    /// An active job holding `key`, else (with `period`) the newest finished within it.
    static func findUnique(key: String, period: Double?, now: Date, db: Database) throws -> Int64? {
        let active = try db.cachedStatement(sql: """
            SELECT id FROM jobs WHERE unique_key = ? AND unique_key IS NOT NULL
              AND (state = 'scheduled' OR state = 'queued' OR state = 'running' OR state = 'retrying')
            """)
        if let id = try Int64.fetchOne(active, arguments: [key]) { return id }
        guard let period, period > 0 else { return nil }
        let recent = try db.cachedStatement(sql: """
            SELECT id FROM jobs WHERE unique_key = ? AND finished_at >= ?
            ORDER BY finished_at DESC LIMIT 1
            """)
        return try Int64.fetchOne(recent, arguments: [key, now.epoch - period])
    }

    public func jobInsert(_ params: JobInsertParams) throws -> JobInsertResult {
        try write { db in try Self.insert(params, now: Date(), in: HotStatements(db)) }
    }

    public func jobInsertMany(_ params: [JobInsertParams]) throws -> [JobInsertResult] {
        if params.isEmpty { return [] }
        return try write { db in try Self.insertAll(params, now: Date(), in: HotStatements(db)) }
    }

    public func jobReserveIDs(count: Int) throws -> [Int64] {
        let n = Int64(max(count, 1))
        return try write { db in
            // `sqlite_sequence` holds the largest id AUTOINCREMENT has handed out; moving it
            // forward reserves the ids in between. Its row appears with the first insert.
            let bump = try db.cachedStatement(sql: "UPDATE sqlite_sequence SET seq = seq + ? WHERE name = 'jobs' RETURNING seq")
            let top: Int64
            if let seq = try Int64.fetchOne(bump, arguments: [n]) {
                top = seq
            } else {
                let highest = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(id), 0) FROM jobs") ?? 0
                top = highest + n
                try db.execute(sql: "INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', ?)", arguments: [top])
            }
            return Array((top - n + 1)...top)
        }
    }

    public func jobFindActiveUnique(key: String, period: Double?, now: Date) throws -> Int64? {
        try read { db in try Self.findUnique(key: key, period: period, now: now, db: db) }
    }

    // MARK: claim

    public func jobClaim(_ params: JobClaimParams) throws -> [Job] {
        guard params.limit > 0 else { return [] }
        return try jobCompleteAndClaim([], claims: [params], claimBudget: params.limit).claimed[0]
    }

    /// Claims inside the current write transaction: expires the queue's jobs past
    /// `expires_at`, stages its waiting jobs that are now due (`stage`), then (unless the queue
    /// is paused) marks up to `params.limit` queued jobs `running`, in claim order.
    static func claim(_ params: JobClaimParams, db: Database) throws -> [Job] {
        guard params.limit > 0 else { return [] }
        let now = params.now.epoch
        let expire = try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'expired', finished_at = ?, error = 'expired before it started'
            WHERE queue = ? AND expires_at <= ? AND expires_at IS NOT NULL
              AND (state = 'scheduled' OR state = 'queued' OR state = 'retrying')
            """)
        try expire.execute(arguments: [now, params.queue, now])
        try countFinal(queue: params.queue, state: JobState.expired.rawValue, by: db.changesCount, db: db)
        try stage(queue: params.queue, now: now, db: db)
        if try isPaused(params.queue, db: db) { return [] }

        // The due jobs in claim order, read first, then marked by the same subquery: inside
        // the write transaction both see the same rows. (An UPDATE … RETURNING costs ~40 %
        // more per row: SQLite runs RETURNING as a trigger program per row, into a temporary
        // table, and gives no order.)
        let exclude = params.excludeTasks.isEmpty
            ? "" : "AND task NOT IN (\(Array(repeating: "?", count: params.excludeTasks.count).joined(separator: ",")))"
        let due = """
            FROM jobs INDEXED BY jobs_claim
            WHERE queue = ? AND state = 'queued' AND run_at <= ?
            \(exclude)
            ORDER BY priority DESC, run_at, id LIMIT ?
            """
        func bindDue(_ raw: RawStatement, from first: Int32) {
            raw.bind(first, params.queue)
            raw.bind(first + 1, now)
            for (i, task) in params.excludeTasks.enumerated() { raw.bind(first + 2 + Int32(i), task) }
            raw.bind(first + 2 + Int32(params.excludeTasks.count), params.limit)
        }

        let select = RawStatement(try db.cachedStatement(sql: "SELECT \(Self.claimColumns) \(due)"), db)
        bindDue(select, from: 1)
        var jobs: [Job] = []
        jobs.reserveCapacity(params.limit)
        do {
            defer { select.finish() }
            while try select.step() { jobs.append(Self.claimedJob(from: select, queue: params.queue)) }
        }
        guard !jobs.isEmpty else { return [] }

        let mark = RawStatement(try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', attempt = attempt + 1, lease_owner = ?, started_at = ?,
                            expires_at = NULL, finished_at = NULL
            WHERE id IN (SELECT id \(due))
            """), db)
        mark.bind(1, params.worker)
        mark.bind(2, now)
        bindDue(mark, from: 3)
        try mark.run()
        guard db.changesCount == jobs.count else {  // never expected: rolls the cycle back
            throw CrescentError.failed("claim in \(params.queue): marked \(db.changesCount) jobs of \(jobs.count) read")
        }
        return jobs
    }

    /// Waiting jobs staged per claim at most: a claim's transaction stays short when many
    /// become due at once (after an outage); the next cycle stages more.
    static let stageBatch = 1000

    /// The stager: moves `queue`'s `scheduled` and `retrying` jobs whose `run_at` has come to
    /// `queued`, earliest first per state, by seeks on `jobs_waiting` (nothing due: two
    /// seeks). Each branch names the index's own condition so SQLite may use it.
    static func stage(queue: String, now: Double, db: Database) throws {
        let stage = RawStatement(try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'queued' WHERE id IN (
                SELECT id FROM jobs INDEXED BY jobs_waiting
                WHERE queue = ?1 AND \(waiting) AND state = 'scheduled' AND run_at <= ?2 ORDER BY run_at LIMIT ?3)
              OR id IN (
                SELECT id FROM jobs INDEXED BY jobs_waiting
                WHERE queue = ?1 AND \(waiting) AND state = 'retrying' AND run_at <= ?2 ORDER BY run_at LIMIT ?3)
            """), db)
        stage.bind(1, queue)
        stage.bind(2, now)
        stage.bind(3, stageBatch)
        try stage.run()
    }

    public func jobUnclaim(ids: [Int64], worker: String) throws {
        guard !ids.isEmpty else { return }
        try write { db in
            let stmt = try db.cachedStatement(sql: """
                UPDATE jobs SET state = 'queued', attempt = attempt - 1, lease_owner = NULL, started_at = NULL
                WHERE id = ? AND state = 'running' AND lease_owner = ?
                """)
            for id in ids { try stmt.execute(arguments: [id, worker]) }
        }
    }

    // MARK: reading

    public func jobGet(id: Int64) throws -> Job? {
        try read { db in
            let stmt = try db.cachedStatement(sql: "SELECT \(Self.jobColumns) FROM jobs WHERE id = ?")
            return try Row.fetchOne(stmt, arguments: [id]).map(Self.job(from:))
        }
    }

    /// Finished attempts in order, then the attempt in progress (from the job row) if any.
    public func jobRuns(id: Int64) throws -> [JobRun] {
        try read { db in
            let stmt = try db.cachedStatement(sql: """
                SELECT job_id, attempt, started_at, finished_at, outcome, error, traceback, worker, id AS n
                FROM runs WHERE job_id = ?
                UNION ALL
                SELECT id, attempt, started_at, NULL, NULL, NULL, NULL, COALESCE(lease_owner, ''), 9223372036854775807
                FROM jobs WHERE id = ? AND state = 'running'
                ORDER BY n
                """)
            return try Row.fetchAll(stmt, arguments: [id, id]).map { row in
                JobRun(jobID: row[0], attempt: row[1], startedAt: dateFrom((row[2] as Double?) ?? 0),
                       finishedAt: dateFrom(row[3] as Double?), outcome: (row[4] as String?).flatMap(RunOutcome.init(rawValue:)),
                       error: row[5], traceback: row[6], worker: row[7])
            }
        }
    }

    public func jobList(_ params: JobListParams) throws -> [Job] {
        var clauses: [String] = []
        var args: StatementArguments = []
        if let s = params.state { clauses.append("state = ?"); args += [s.rawValue] }
        if let t = params.task { clauses.append("task = ?"); args += [t] }
        if let q = params.queue { clauses.append("queue = ?"); args += [q] }
        if let text = params.search { clauses.append(Self.searchClause); args += [text, text] }
        var index = ""
        if let state = params.state, let (name, condition) = try stateIndex(for: params, state: state) {
            index = "INDEXED BY \(name)"
            clauses.append(condition)  // the index's own condition, literally, so that SQLite may use it
        }
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        args += [max(params.limit, 0), max(params.offset, 0)]
        let sql = "SELECT \(Self.jobColumns) FROM jobs \(index) \(whereSQL) ORDER BY id DESC LIMIT ? OFFSET ?"
        return try read { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: args).map(Self.job(from:))
        }
    }

    /// The partial index holding `state`'s jobs when reading all of them and sorting costs
    /// less than walking the table from the newest id until the page is full: when the state
    /// has few jobs among many (old dead jobs behind 1M succeeded ones: 87 ms by id), that is
    /// count < √(page end × id span). Counted through the index up to that bound, so the check
    /// itself stays small. Nil leaves the choice to SQLite (by id).
    private func stateIndex(for params: JobListParams, state: JobState) throws -> (name: String, condition: String)? {
        let index: (name: String, condition: String)
        switch state {
        case .queued: index = ("jobs_claim", "state = 'queued'")
        case .scheduled, .retrying: index = ("jobs_waiting", Self.waiting)
        case .running: index = ("jobs_running", "state = 'running'")
        case .succeeded, .dead, .cancelled, .expired: index = ("jobs_finished", "finished_at IS NOT NULL")
        }
        let pageEnd = Double(max(params.limit, 0) + max(params.offset, 0))
        return try read { db in
            let span = try Double.fetchOne(db, sql: "SELECT (SELECT MAX(id) FROM jobs) - (SELECT MIN(id) FROM jobs) + 1") ?? 0
            let bound = Int((pageEnd * span).squareRoot()) + 1
            var clauses = [index.condition, "state = ?"]
            var args: StatementArguments = [state.rawValue]
            if let q = params.queue { clauses.append("queue = ?"); args += [q] }
            args += [bound]
            let few = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM (SELECT 1 FROM jobs INDEXED BY \(index.name) WHERE \(clauses.joined(separator: " AND ")) LIMIT ?)
                """, arguments: args) ?? 0
            return few < bound ? index : nil
        }
    }

    // MARK: operator actions

    public func jobRetry(ids: [Int64]) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { db in
            // OR IGNORE: a job whose unique key is held again by another active job stays put.
            let stmt = try db.cachedStatement(sql: """
                UPDATE OR IGNORE jobs SET state = 'queued', attempt = 0, run_at = ?, finished_at = NULL,
                    expires_at = NULL, lease_owner = NULL, cancel_requested = 0, result = NULL
                WHERE id = ? AND (state = 'dead' OR state = 'cancelled' OR state = 'expired')
                """)
            let before = try db.cachedStatement(sql: "SELECT queue, state FROM jobs WHERE id = ?")
            let now = Date().epoch
            var moved: [Int64] = []
            for id in ids {
                guard let row = try Row.fetchOne(before, arguments: [id]) else { continue }
                try stmt.execute(arguments: [now, id])
                guard db.changesCount == 1 else { continue }
                moved.append(id)
                try Self.countFinal(queue: row[0], state: row[1], by: -1, db: db)
            }
            return moved
        }
    }

    public func jobRetryAllDead() throws -> Int {
        try write { db in
            try Self.countFinal(db.makeStatement(sql: """
                UPDATE OR IGNORE jobs SET state = 'queued', attempt = 0, run_at = ?, finished_at = NULL,
                    expires_at = NULL, lease_owner = NULL, cancel_requested = 0, result = NULL
                WHERE state = 'dead' RETURNING queue
                """), arguments: [Date().epoch], state: JobState.dead.rawValue, sign: -1, db: db)
        }
    }

    public func jobCancel(ids: [Int64]) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { db in
            let now = Date().epoch
            let cancel = try db.cachedStatement(sql: """
                UPDATE jobs SET state = 'cancelled', finished_at = ?
                WHERE id = ? AND (state = 'scheduled' OR state = 'queued' OR state = 'retrying') RETURNING queue
                """)
            let flag = try db.cachedStatement(sql: """
                UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'
                """)
            var done: [Int64] = []
            for id in ids {
                if try Self.countFinal(cancel, arguments: [now, id], state: JobState.cancelled.rawValue, sign: 1, db: db) == 1 {
                    done.append(id)
                    continue
                }
                try flag.execute(arguments: [id])
                if db.changesCount == 1 { done.append(id) }
            }
            return done
        }
    }

    public func jobCancelRequested(worker: String) throws -> [Int64] {
        try read { db in
            let stmt = try db.cachedStatement(sql: """
                SELECT id FROM jobs WHERE state = 'running' AND lease_owner = ? AND cancel_requested = 1 ORDER BY id
                """)
            return try Int64.fetchAll(stmt, arguments: [worker])
        }
    }
}
