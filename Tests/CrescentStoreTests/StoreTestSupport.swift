import CrescentCore
import CrescentStore
import Foundation

/// Which store the suite runs on: SQLite by default; PostgreSQL with
/// `CRESCENT_TEST_STORE=postgres` and `CRESCENT_TEST_POSTGRES_URL=postgres://…` (a fresh
/// schema per database, dropped at the end). `make test` runs the suite once on each.
enum TestStore {
    static let environment = ProcessInfo.processInfo.environment
    static let isPostgres = environment["CRESCENT_TEST_STORE"] == "postgres"
    static let isSQLite = !isPostgres
    static let postgresURL = environment["CRESCENT_TEST_POSTGRES_URL"] ?? ""
}

/// A fresh database: a file in its own temporary folder (SQLite), or a schema of its own
/// (PostgreSQL); removed when the test ends.
final class TempDatabase: @unchecked Sendable {
    let folder: URL
    let path: String
    /// The PostgreSQL URL of this database's schema (PostgreSQL runs only).
    let url: String

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("crescent-store-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("crescent.db").path
        let schema = "t_" + UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: "")
        let base = TestStore.postgresURL
        url = base + (base.contains("?") ? "&" : "?") + "schema=" + schema
    }

    /// A store on this database, of the kind the run is for.
    func open() throws -> any JobStore {
        if TestStore.isPostgres {
            if TestStore.postgresURL.isEmpty { throw CrescentError.usage("CRESCENT_TEST_POSTGRES_URL is not set") }
            return try PostgresJobStore(url: PostgresURL(url))
        }
        return try SQLiteJobStore(path: path)
    }

    /// A SQLite store on this database's file (SQLite-only tests).
    func openSQLite(_ durability: SQLiteJobStore.Durability = .normal) throws -> SQLiteJobStore {
        try SQLiteJobStore(path: path, durability: durability)
    }

    deinit {
        if TestStore.isPostgres, let store = try? PostgresJobStore(url: PostgresURL(url)) { try? store.dropSchema() }
        try? FileManager.default.removeItem(at: folder)
    }
}

/// Runs `body` with a store on a fresh database, then deletes the database. First checks that
/// the finished-job counts the store kept match a recount of the jobs: every store test then
/// checks that its write paths keep them.
func withStore<T>(_ body: (any JobStore) throws -> T) throws -> T {
    let db = try TempDatabase()
    return try withExtendedLifetime(db) {
        let store = try db.open()
        let result = try body(store)
        if try store.recountFinalJobs() {
            throw CrescentError.failed("job_counts differed from a recount of the jobs")
        }
        return result
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

extension JobStore {
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
