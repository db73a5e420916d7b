import CrescentCore
import Foundation
import GRDB

// Store reads checked at commit, and `store.incr` applied as an increment.
extension SQLiteJobStore {
    /// How many completions from `start` on (at most `completeChunk`) can go in one set-wise
    /// UPDATE: their run rows need no read of `started_at` and their store reads need no check.
    static func chunkableRun(_ completions: [JobCompletion], from start: Int) -> Int {
        var end = start
        let limit = min(completions.endIndex, start + completeChunk)
        while end < limit, completions[end].startedAt != nil, !completions[end].needsStoreCheck { end += 1 }
        return end - start
    }

    /// One completion inside the batch's transaction. A success whose store reads no longer
    /// hold (`storeConflict`) is applied as `conflict`: none of its effects, the job queued
    /// again, the attempt not counted. `applied` is false when fenced out.
    static func completeChecked(_ c: JobCompletion, now: Date, in hot: HotStatements) throws -> (applied: Bool, conflict: Bool) {
        guard c.needsStoreCheck, try storeConflict(c, db: hot.db) else {
            return (try complete(c, now: now, in: hot), false)
        }
        let applied = try finish(jobID: c.jobID, queue: c.queue, attempt: c.attempt, worker: c.worker, startedAt: c.startedAt, outcome: .conflict,
                                 finishedAt: c.finishedAt, now: now, in: hot)
        if applied { try writeProgress(of: c, db: hot.db) }
        return (applied, applied)
    }

    /// Whether a key the attempt read now holds another value (a change and its undo, A→B→A,
    /// is not a conflict: what the attempt computed from A still holds), or a key it
    /// increments without setting it first now holds something other than a number.
    static func storeConflict(_ c: JobCompletion, db: Database) throws -> Bool {
        let select = try db.cachedStatement(sql: "SELECT value FROM kv WHERE task = ? AND key = ?")
        for r in c.storeReads where try String.fetchOne(select, arguments: [r.task, r.key]) != r.value {
            return true
        }
        var own: Set<String> = []  // keys this attempt set or deleted before: their base is its own
        for w in c.storeWrites {
            guard w.increment else { own.insert(w.task + "\u{0}" + w.key); continue }
            if own.contains(w.task + "\u{0}" + w.key) { continue }
            if let text = try String.fetchOne(select, arguments: [w.task, w.key]),
               (try? JSONValue.decode(text))?.doubleValue == nil {
                return true
            }
        }
        return false
    }

    /// Adds an increment's number to the key's (a missing key counts as 0).
    static func storeIncrement(_ w: StoreWrite, now: Date, db: Database) throws {
        let select = try db.cachedStatement(sql: "SELECT value FROM kv WHERE task = ? AND key = ?")
        let current = try String.fetchOne(select, arguments: [w.task, w.key])
        let base: JSONValue? = current == nil ? .int(0) : current.flatMap { try? JSONValue.decode($0) }
        guard let deltaText = w.value, let delta = try? JSONValue.decode(deltaText), let base, let sum = base.adding(delta) else {
            throw CrescentError.failed("store increment of \"\(w.key)\" (task \(w.task)): the key does not hold a number")
        }
        try storeWrite(StoreWrite(task: w.task, key: w.key, value: sum.encoded()), now: now, db: db)
    }
}
