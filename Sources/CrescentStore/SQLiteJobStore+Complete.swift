import CrescentCore
import Foundation
import GRDB
import GRDBSQLite

extension SQLiteJobStore {
    /// What a completion does to its job row and its run row.
    struct Transition {
        var state: JobState
        var result: String? = nil
        /// Keep the job's last error (snooze, release) instead of writing `error`.
        var keepError = false
        var error: String? = nil
        /// Set for final states.
        var finished = false
        /// New `run_at`, or nil to keep it.
        var runAt: Date? = nil
        var attemptDelta = 0
        var maxAttemptsDelta = 0
        var runOutcome: RunOutcome
        var runError: String? = nil
        var traceback: String? = nil
    }

    /// The transition for `outcome`. A requested cancel wins over anything that would run
    /// the job again (retry, snooze, release) and over an abort: the job ends `cancelled`.
    static func transition(_ outcome: CompletionOutcome, cancelRequested: Bool, finishedAt: Date, now: Date) -> Transition {
        switch outcome {
        case .succeeded(let result):
            return Transition(state: .succeeded, result: result, finished: true, runOutcome: .succeeded)
        case .failed(let error, let traceback, let retryAt):
            var t = Transition(state: .dead, error: error, finished: true, runOutcome: .failed, runError: error, traceback: traceback)
            if let retryAt {
                if cancelRequested { t.state = .cancelled } else { t.state = .retrying; t.finished = false; t.runAt = retryAt }
            }
            return t
        case .snoozed(let until):
            if cancelRequested {
                return Transition(state: .cancelled, keepError: true, finished: true, runOutcome: .snoozed)
            }
            return Transition(state: until > now ? .scheduled : .queued, keepError: true, runAt: until,
                              maxAttemptsDelta: 1, runOutcome: .snoozed)
        case .discarded(let reason):
            return Transition(state: .dead, error: reason, finished: true, runOutcome: .discarded, runError: reason)
        case .aborted(let error, let retryAt):
            var t = Transition(state: .dead, error: error, finished: true, runOutcome: .aborted, runError: error)
            if cancelRequested { t.state = .cancelled } else if let retryAt { t.state = .retrying; t.finished = false; t.runAt = retryAt }
            return t
        case .released:
            if cancelRequested {
                return Transition(state: .cancelled, keepError: true, finished: true, runOutcome: .released)
            }
            return Transition(state: .queued, keepError: true, runAt: finishedAt, attemptDelta: -1, runOutcome: .released)
        case .conflict:
            if cancelRequested {
                return Transition(state: .cancelled, keepError: true, finished: true, runOutcome: .conflict)
            }
            return Transition(state: .queued, keepError: true, runAt: finishedAt, attemptDelta: -1, runOutcome: .conflict)
        }
    }

    /// Ends attempt `attempt` of a running job owned by `worker` with `outcome`: moves the
    /// job and queues its run row (`hot.flushRuns()` writes them before the transaction
    /// ends), or does nothing and answers false when the job is not (any longer) that
    /// attempt of that owner. The fence is the job UPDATE's own WHERE; the run row is built
    /// from what the caller knows of the attempt (`startedAt`, the claim's time, is read
    /// from the job row when the caller does not know it).
    static func finish(jobID: Int64, queue: String?, attempt: Int, worker: String?, startedAt: Date?, outcome: CompletionOutcome,
                       finishedAt: Date, now: Date, in hot: HotStatements) throws -> Bool {
        let db = hot.db
        var started = startedAt?.epoch
        if started == nil {
            let select = try db.cachedStatement(sql: "SELECT started_at FROM jobs WHERE id = ?")
            started = try Double.fetchOne(select, arguments: [jobID])
        }
        let rawUpdate = try hot.finish()
        // Nearly always no cancel was requested: one try for each case.
        for cancelRequested in [false, true] {
            let t = transition(outcome, cancelRequested: cancelRequested, finishedAt: finishedAt, now: now)
            rawUpdate.bind(1, t.state.rawValue)
            rawUpdate.bind(2, t.result)
            rawUpdate.bind(3, t.keepError)
            rawUpdate.bind(4, t.error)
            rawUpdate.bind(5, t.finished ? finishedAt.epoch : nil)
            rawUpdate.bind(6, t.runAt?.epoch)
            rawUpdate.bind(7, t.attemptDelta)
            rawUpdate.bind(8, t.maxAttemptsDelta)
            rawUpdate.bind(9, t.state.rawValue)
            rawUpdate.bind(10, jobID)
            rawUpdate.bind(11, attempt)
            rawUpdate.bind(12, worker)
            rawUpdate.bind(13, cancelRequested)
            try rawUpdate.run()
            guard sqlite3_changes(db.sqliteConnection) == 1 else { continue }
            if t.finished { hot.countFinal(queue: try queue ?? queueOf(job: jobID, db: db), state: t.state) }
            try hot.addRun(RunRow(jobID: jobID, attempt: attempt, startedAt: started ?? finishedAt.epoch,
                                  finishedAt: finishedAt.epoch, transition: t, worker: worker ?? ""))
            return true
        }
        return false
    }

    static let finishSQL = """
        UPDATE jobs SET state = ?, result = ?, error = CASE WHEN ? THEN error ELSE ? END,
            finished_at = ?, run_at = COALESCE(?, run_at), attempt = attempt + ?,
            max_attempts = max_attempts + ?, lease_owner = NULL,
            cancel_requested = CASE WHEN ? = 'cancelled' THEN cancel_requested ELSE 0 END
        WHERE id = ? AND state = 'running' AND attempt = ? AND lease_owner IS ? AND cancel_requested = ?
        """


    static let runPrefix = "INSERT INTO runs (job_id, attempt, started_at, finished_at, outcome, error, traceback, worker) VALUES"
    static let runRow = "(?, ?, ?, ?, ?, ?, ?, ?)"
    static let runSQL = runPrefix + " " + runRow
    static let runChunkSQL = runPrefix + " " + Array(repeating: runRow, count: insertChunk).joined(separator: ", ")

    /// One completion inside the batch's transaction; false when fenced out.
    static func complete(_ c: JobCompletion, now: Date, in hot: HotStatements) throws -> Bool {
        guard try finish(jobID: c.jobID, queue: c.queue, attempt: c.attempt, worker: c.worker, startedAt: c.startedAt, outcome: c.outcome,
                         finishedAt: c.finishedAt, now: now, in: hot) else { return false }
        try applySideEffects(of: c, now: now, in: hot)
        try writeProgress(of: c, db: hot.db)
        return true
    }

    /// An applied completion's last progress (after `finish` fenced it).
    @inline(__always)
    static func writeProgress(of c: borrowing JobCompletion, db: Database) throws {
        guard let p = c.progress else { return }
        try db.cachedStatement(sql: "UPDATE jobs SET progress = ? WHERE id = ?").execute(arguments: [p.stored(), c.jobID])
    }

    /// An applied success's pushes and store writes.
    @inline(__always)
    static func applySideEffects(of c: borrowing JobCompletion, now: Date, in hot: HotStatements) throws {
        guard case .succeeded = c.outcome else { return }
        _ = try insertAll(c.pushes, now: now, in: hot)
        for w in c.storeWrites { try storeWrite(w, now: now, db: hot.db) }
    }

    /// Completions per set-wise UPDATE (`completeChunk`).
    static let completeChunk = 64

    /// The set-wise form of `finishSQL` for `completeChunk` completions: one UPDATE joined
    /// with their values, each row fenced as in `finishSQL` with no cancel requested. Rows
    /// of a short chunk are padded with NULLs (an id that matches nothing).
    static let finishChunkSQL = finishChunkSQL(columns: 11, set: """
        state = v.column4, result = v.column5,
            error = CASE WHEN v.column6 THEN jobs.error ELSE v.column7 END,
            finished_at = v.column8, run_at = COALESCE(v.column9, jobs.run_at),
            attempt = jobs.attempt + v.column10, max_attempts = jobs.max_attempts + v.column11
        """)

    /// The same for chunks of successes only (the usual case): it changes fewer columns, so
    /// SQLite leaves the claim index and `run_at` alone (−2k instructions per job).
    static let succeedChunkSQL = finishChunkSQL(columns: 5, set: """
        state = 'succeeded', result = v.column4, error = NULL, finished_at = v.column5
        """)

    static func finishChunkSQL(columns: Int, set: String) -> String {
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return """
            UPDATE jobs SET \(set), lease_owner = NULL, cancel_requested = 0
            FROM (VALUES \(Array(repeating: row, count: completeChunk).joined(separator: ", "))) AS v
            WHERE jobs.id = v.column1 AND jobs.state = 'running' AND jobs.attempt = v.column2
              AND jobs.lease_owner IS v.column3 AND jobs.cancel_requested = 0
            """
    }

    /// A run of completions applied by one UPDATE: a single-row UPDATE spent about as much
    /// on the statement (start, cursors on the table and its indexes, end) as on the row
    /// (callgrind, same schema: 60.0k → 50.4k instructions per job for claim, completion and
    /// run row). Throws `ChunkMiss` when any of them would not apply as it stands (fenced
    /// out, or a cancel was requested): the caller then redoes its transaction row by row.
    static func completeChunk(_ cs: ArraySlice<JobCompletion>, now: Date, in hot: HotStatements) throws {
        let successes = cs.allSatisfy { $0.outcome.isSuccess }
        let raw = try successes ? hot.succeedChunk() : hot.finishChunk()
        let columns: Int32 = successes ? 5 : 11
        for (row, c) in cs.enumerated() {
            let base = Int32(row) * columns
            raw.bind(base + 1, c.jobID)
            raw.bind(base + 2, c.attempt)
            raw.bind(base + 3, c.worker)
            if case .succeeded(let result) = c.outcome, successes {
                raw.bind(base + 4, result)
                raw.bind(base + 5, c.finishedAt.epoch)
            } else {
                let t = transition(c.outcome, cancelRequested: false, finishedAt: c.finishedAt, now: now)
                raw.bind(base + 4, t.state.rawValue)
                raw.bind(base + 5, t.result)
                raw.bind(base + 6, t.keepError)
                raw.bind(base + 7, t.error)
                raw.bind(base + 8, t.finished ? c.finishedAt.epoch : nil)
                raw.bind(base + 9, t.runAt?.epoch)
                raw.bind(base + 10, t.attemptDelta)
                raw.bind(base + 11, t.maxAttemptsDelta)
            }
        }
        for pad in Int32(cs.count)..<Int32(completeChunk) {
            for column in 1...columns { sqlite3_bind_null(raw.handle, pad * columns + column) }
        }
        try raw.run()
        guard sqlite3_changes(hot.db.sqliteConnection) == cs.count else { throw ChunkMiss() }
        for c in cs {
            let t = transition(c.outcome, cancelRequested: false, finishedAt: c.finishedAt, now: now)
            if t.finished { hot.countFinal(queue: try c.queue ?? queueOf(job: c.jobID, db: hot.db), state: t.state) }
            try hot.addRun(RunRow(jobID: c.jobID, attempt: c.attempt, startedAt: c.startedAt!.epoch,
                                  finishedAt: c.finishedAt.epoch, transition: t, worker: c.worker))
            try applySideEffects(of: c, now: now, in: hot)
            try writeProgress(of: c, db: hot.db)
        }
    }

    /// A chunk of completions did not all apply as they stood.
    struct ChunkMiss: Error {}

    static func storeWrite(_ w: StoreWrite, now: Date, db: Database) throws {
        if w.increment { return try storeIncrement(w, now: now, db: db) }
        if let value = w.value {
            let upsert = try db.cachedStatement(sql: """
                INSERT INTO kv (task, key, value, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (task, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """)
            try upsert.execute(arguments: [w.task, w.key, value, now.epoch])
        } else {
            let delete = try db.cachedStatement(sql: "DELETE FROM kv WHERE task = ? AND key = ?")
            try delete.execute(arguments: [w.task, w.key])
        }
    }

    /// Applies all completions in one transaction. A completion that is fenced out applies
    /// nothing (no state change, no run update, no pushes, no store writes). An error in
    /// any completion (e.g. a push with an id already used) rolls back the whole batch.
    ///
    /// A success with store reads (or increments) is checked first (`completeChecked`): if
    /// another committed attempt changed what it read, it is applied as `conflict` instead.
    public func jobCompleteMany(_ completions: [JobCompletion]) throws -> [Bool] {
        if completions.isEmpty { return [] }
        return try jobCompleteAndClaim(completions, claims: [], claimBudget: 0).applied
    }

    /// Completions first, so that the slots they free are claimed in the same commit; an
    /// error anywhere rolls back the whole cycle. Completions go a chunk per statement while
    /// each applies as it stands; when one does not (rare: a fenced-out outcome, a cancel
    /// requested meanwhile) the transaction is rolled back and done again row by row.
    public func jobCompleteAndClaim(_ completions: [JobCompletion], claims: [JobClaimParams],
                                    claimBudget: Int) throws -> (applied: [Bool], claimed: [[Job]], conflicts: [Int]) {
        do {
            return try cycle(completions, claims: claims, claimBudget: claimBudget, chunked: true)
        } catch is ChunkMiss {
            return try cycle(completions, claims: claims, claimBudget: claimBudget, chunked: false)
        }
    }

    private func cycle(_ completions: [JobCompletion], claims: [JobClaimParams], claimBudget: Int,
                       chunked: Bool) throws -> (applied: [Bool], claimed: [[Job]], conflicts: [Int]) {
        try write { db in
            let now = Date()
            var applied: [Bool] = []
            var conflicts: [Int] = []
            applied.reserveCapacity(completions.count)
            if !completions.isEmpty {
                let hot = HotStatements(db)
                // In batch order, so that a success's store writes are seen by the checks of
                // the completions after it. Chunks of at least a quarter: below that, single
                // rows cost about the same.
                var i = completions.startIndex
                while i < completions.endIndex {
                    let run = chunked ? Self.chunkableRun(completions, from: i) : 0
                    if run >= Self.completeChunk / 4 {
                        try Self.completeChunk(completions[i..<i + run], now: now, in: hot)
                        applied.append(contentsOf: repeatElement(true, count: run))
                        i += run
                        continue
                    }
                    let done = try Self.completeChecked(completions[i], now: now, in: hot)
                    applied.append(done.applied)
                    if done.conflict { conflicts.append(i) }
                    i += 1
                }
                try hot.flushRuns()
                try Self.removeSucceeded(completions, applied: applied, db: db)
            }
            var budget = claimBudget
            var claimed: [[Job]] = []
            claimed.reserveCapacity(claims.count)
            for var params in claims {
                params.limit = min(params.limit, budget)
                let jobs = try Self.claim(params, db: db)
                budget -= jobs.count
                claimed.append(jobs)
            }
            return (applied, claimed, conflicts)
        }
    }
}

extension RunRow {
    @inline(__always)
    init(jobID: Int64, attempt: Int, startedAt: Double, finishedAt: Double, transition t: borrowing SQLiteJobStore.Transition, worker: String) {
        self.jobID = jobID; self.attempt = attempt; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.outcome = t.runOutcome; self.error = t.runError; self.traceback = t.traceback; self.worker = worker
    }

    func bind(to raw: RawStatement, at row: Int32) {
        let base = row * 8
        raw.bind(base + 1, jobID)
        raw.bind(base + 2, attempt)
        raw.bind(base + 3, startedAt)
        raw.bind(base + 4, finishedAt)
        raw.bind(base + 5, outcome.rawValue)
        raw.bind(base + 6, error)
        raw.bind(base + 7, traceback)
        raw.bind(base + 8, worker)
    }
}

extension SQLiteJobStore {
    /// Deletes the applied successes marked `removeOnSuccess` (runs go with them).
    static func removeSucceeded(_ completions: [JobCompletion], applied: [Bool], db: Database) throws {
        let ids = completions.indices.filter { completions[$0].removeOnSuccess && applied[$0] && completions[$0].outcome.isSuccess }
            .map { completions[$0].jobID }
        guard !ids.isEmpty else { return }
        let delete = try db.cachedStatement(sql: "DELETE FROM jobs WHERE id = ? AND state = 'succeeded' RETURNING queue")
        for id in ids { try countFinal(delete, arguments: [id], state: JobState.succeeded.rawValue, sign: -1, db: db) }
    }
}
