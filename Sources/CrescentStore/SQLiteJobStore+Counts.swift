import CrescentCore
import Foundation
import GRDB

/// A (queue, final state) pair of `job_counts`.
struct FinalKey: Hashable {
    var queue: String
    var state: String
}

// Jobs in final states (succeeded, dead, cancelled, expired) are counted per queue and state
// in `job_counts`, kept by every write that moves a job into or out of one of those states,
// in the same transaction. Those are the jobs that pile up (history kept for days), so
// `status`, the dashboard and `/metrics` read their counts from a few rows instead of
// counting index entries (about 100 ms per million jobs). Jobs still to run (queued,
// running, waiting) are counted from their partial indexes, as they are the work itself.
//
// Kept in Swift rather than by triggers: a trigger per row cost about 1.5 µs per state change
// (three per job on the drain path), while the writes below add one upsert per (queue, state)
// per transaction. Rows written by other means (the sqlite3 shell) are not counted until
// `recountFinalJobs`.
extension SQLiteJobStore {
    static let schemaJobCounts = """
        CREATE TABLE job_counts (
            queue TEXT    NOT NULL,
            state TEXT    NOT NULL,
            n     INTEGER NOT NULL,
            PRIMARY KEY (queue, state)
        ) WITHOUT ROWID;
        \(fillJobCounts)
        """

    static let fillJobCounts = """
        INSERT INTO job_counts (queue, state, n)
        SELECT queue, state, COUNT(*) FROM jobs INDEXED BY jobs_finished WHERE finished_at IS NOT NULL GROUP BY queue, state;
        """

    static let countUpsertSQL = """
        INSERT INTO job_counts (queue, state, n) VALUES (?, ?, ?)
        ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n
        """

    /// Adds `n` (negative: removes) jobs of `queue` in `state`; nothing for states that are
    /// not final.
    static func countFinal(queue: String, state: String, by n: Int, db: Database) throws {
        guard n != 0, JobState(rawValue: state)?.isFinal == true else { return }
        try db.cachedStatement(sql: countUpsertSQL).execute(arguments: [queue, state, n])
    }

    /// Counts the rows of a statement that returns `queue` (and `state`, unless `state` is
    /// given) of each job it moved into a final state (`sign` 1) or out of one (`sign` -1).
    /// Returns how many rows it returned.
    @discardableResult
    static func countFinal(_ statement: Statement, arguments: StatementArguments, state: String? = nil, sign: Int,
                           db: Database) throws -> Int {
        var tally: [FinalKey: Int] = [:]
        var rows = 0
        let cursor = try Row.fetchCursor(statement, arguments: arguments)
        while let row = try cursor.next() {
            rows += 1
            tally[FinalKey(queue: row[0], state: state ?? row[1]), default: 0] += sign
        }
        for (key, n) in tally { try countFinal(queue: key.queue, state: key.state, by: n, db: db) }
        return rows
    }

    /// The queue of job `id` (for completions that did not say it).
    static func queueOf(job id: Int64, db: Database) throws -> String {
        try String.fetchOne(db.cachedStatement(sql: "SELECT queue FROM jobs WHERE id = ?"), arguments: [id]) ?? ""
    }

    /// The final-state counts per queue, from `job_counts`.
    static func finalCounts(db: Database) throws -> [QueueStateCount] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT queue, state, n FROM job_counts WHERE n <> 0")).compactMap { row in
            guard let state = JobState(rawValue: row[1]) else { return nil }
            return QueueStateCount(queue: row[0], state: state, count: row[2])
        }
    }

    /// Counts the jobs in final states again and replaces `job_counts` with the result, in
    /// one write transaction (a scan of their index: about 100 ms per million jobs). Returns
    /// whether the kept counts differed. For databases written by other means than
    /// Crescent, and for the tests' check that every write path keeps the counts.
    @discardableResult
    public func recountFinalJobs() throws -> Bool {
        try write { db in
            let kept = Set(try Self.finalCounts(db: db).map { "\($0.queue)\u{0}\($0.state.rawValue)\u{0}\($0.count)" })
            try db.execute(sql: "DELETE FROM job_counts; " + Self.fillJobCounts)
            let counted = Set(try Self.finalCounts(db: db).map { "\($0.queue)\u{0}\($0.state.rawValue)\u{0}\($0.count)" })
            return kept != counted
        }
    }
}

extension HotStatements {
    /// Counts a job of `queue` moved into final state `state` (written by `flushRuns`). A
    /// cycle finishes jobs of a few queues and states: a short list searched in order costs
    /// less per job than hashing the key.
    @inline(__always)
    func countFinal(queue: String, state: JobState) {
        for i in finals.indices where finals[i].state == state && finals[i].queue == queue {
            finals[i].n += 1
            return
        }
        finals.append((queue, state, 1))
    }

    func writeFinalCounts() throws {
        guard !finals.isEmpty else { return }
        for f in finals { try SQLiteJobStore.countFinal(queue: f.queue, state: f.state.rawValue, by: f.n, db: db) }
        finals.removeAll(keepingCapacity: true)
    }
}
