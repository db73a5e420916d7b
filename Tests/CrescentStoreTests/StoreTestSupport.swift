import CrescentCore
import CrescentStore
import Foundation

/// A fresh database file in its own temporary folder, removed when the test ends.
final class TempDatabase: @unchecked Sendable {
    let folder: URL
    let path: String

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("crescent-store-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("crescent.db").path
    }

    func open(_ durability: SQLiteJobStore.Durability = .normal) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: path, durability: durability)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

/// Runs `body` with a store on a fresh database, then deletes the database.
func withStore<T>(_ body: (SQLiteJobStore) throws -> T) throws -> T {
    let db = try TempDatabase()
    return try withExtendedLifetime(db) {
        let store = try db.open()
        return try body(store)
    }
}

/// A fixed instant well in the past of the test run, so `runAt` values around it are due.
let t0 = Date(timeIntervalSince1970: 1_700_000_000)

func job(_ task: String = "t", queue: String = "default", priority: Int = 0, args: String = "{}",
         runAt: Date = t0, maxAttempts: Int = 5, uniqueKey: String? = nil, uniquePeriod: Double? = nil,
         scheduledFor: Date? = nil, expiresAt: Date? = nil, id: Int64? = nil) -> JobInsertParams {
    JobInsertParams(task: task, queue: queue, priority: priority, args: args, maxAttempts: maxAttempts, runAt: runAt,
                    scheduledFor: scheduledFor, uniqueKey: uniqueKey, uniquePeriod: uniquePeriod,
                    expiresAt: expiresAt, id: id)
}

extension SQLiteJobStore {
    /// Claims everything due in `queue` for `worker`.
    func claimAll(_ queue: String = "default", worker: String = "w1", limit: Int = 100, now: Date = Date()) throws -> [Job] {
        try jobClaim(JobClaimParams(queue: queue, limit: limit, worker: worker, now: now))
    }

    /// Completes one claimed job and returns whether it applied.
    @discardableResult
    func complete(_ job: Job, worker: String = "w1", _ outcome: CompletionOutcome, at: Date = Date(),
                  pushes: [JobInsertParams] = [], writes: [StoreWrite] = []) throws -> Bool {
        try jobCompleteMany([JobCompletion(jobID: job.id, attempt: job.attempt, worker: worker, finishedAt: at,
                                           outcome: outcome, pushes: pushes, storeWrites: writes)])[0]
    }

    func state(_ id: Int64) throws -> JobState? { try jobGet(id: id)?.state }
}
