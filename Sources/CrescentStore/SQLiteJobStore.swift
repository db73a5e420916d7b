import CrescentCore
import CSQLiteShim
import Foundation
import GRDB

/// The SQLite implementation of `JobStore`, on a GRDB `DatabasePool` (WAL: readers never
/// block the writer). Several processes may share one file: writes take the write lock
/// up front (`BEGIN IMMEDIATE`), wait on it through `busy_timeout`, and a transaction
/// that still meets `SQLITE_BUSY` is retried here, so the error never reaches callers.
///
/// Storage conventions:
/// - Times are REAL epoch seconds (`Date.timeIntervalSince1970`); schedule occurrences
///   (`scheduled_for`) are rounded to the millisecond so that two processes computing the
///   same occurrence always produce the same key.
/// - A snoozed attempt does not count: `attempt` keeps counting attempts started, and
///   `max_attempts` grows by one instead. A released attempt (shutdown) is given back:
///   `attempt` goes down by one, so its run row and the next one share an attempt number.
/// - Uniqueness lives in the schema: a partial unique index over active states holds each
///   unique key, and a unique index on (task, scheduled_for) makes each schedule occurrence
///   one job forever (not only while active, so a late process cannot fire it again).
public final class SQLiteJobStore: JobStore, Sendable {
    /// How hard commits are made durable.
    public enum Durability: String, Sendable {
        /// WAL + `synchronous = NORMAL`: survives a crash of any process.
        case normal
        /// WAL + `synchronous = FULL`: also survives power loss.
        case full
    }

    public let path: String
    public var storeDescription: String { "sqlite \(path)" }

    /// One writer at a time: the pipeline's cycle writes outcomes and claims in one transaction.
    public var concurrentWriters: Bool { false }
    public let durability: Durability
    let pool: DatabasePool
    let checkpointer: Checkpointer

    /// SQLite's process-wide settings, applied once before the first connection opens
    /// (see `crescent_sqlite_configure`): no memory statistics.
    private static let configured: Void = { _ = crescent_sqlite_configure() }()

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    public init(path: String, durability: Durability = .normal) throws {
        Self.configured
        self.path = path
        self.durability = durability
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.label = "crescent.store"
        config.maximumReaderCount = 4
        let sync = durability == .full ? "FULL" : "NORMAL"
        let checkpointer = Checkpointer(path: path, synchronous: sync)
        self.checkpointer = checkpointer
        do {
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty, !FileManager.default.fileExists(atPath: dir) {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            }
            pool = try Self.retryingBusy { try DatabasePool(path: path, configuration: config) }
            try Self.retryingBusy {
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(sync)")
                    // A larger page cache for the writer (allocated only as used), and a
                    // WAL file truncated back after checkpoints.
                    try db.execute(sql: "PRAGMA cache_size = -32768")
                    try db.execute(sql: "PRAGMA journal_size_limit = 67108864")
                    // Debian's SQLite zeroes deleted content by default; every row rewrite and
                    // index move paid for it (~1k instructions per job).
                    try db.execute(sql: "PRAGMA secure_delete = OFF")
                    try checkpointer.install(on: db)
                }
            }
            try Self.migrate(pool)
        } catch {
            throw Self.wrap(error, path: path)
        }
    }

    deinit {
        pool.writeWithoutTransaction { checkpointer.uninstall(from: $0) }
        checkpointer.stop()
    }

    // MARK: database access

    /// Runs `body` in one write transaction (`BEGIN IMMEDIATE`), retrying the whole
    /// transaction while another process holds the lock beyond `busy_timeout`.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try Self.retryingBusy { try pool.write(body) }
        } catch {
            throw Self.wrap(error, path: path)
        }
    }

    /// Runs `body` in a read transaction on a reader connection (never blocked by writers).
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try Self.retryingBusy { try pool.read(body) }
        } catch {
            throw Self.wrap(error, path: path)
        }
    }

    /// SQLite's `PRAGMA data_version` on the writer connection: it changes whenever another
    /// connection (another process, or another store on the same file) commits, and never
    /// for this store's own writes. A cheap change signal to poll instead of claiming.
    public func wakeToken() throws -> Int64 {
        do {
            return try pool.writeWithoutTransaction { db in
                try Int64.fetchOne(db.cachedStatement(sql: "PRAGMA data_version")) ?? 0
            }
        } catch {
            throw Self.wrap(error, path: path)
        }
    }

    /// SQLite cannot push wake-ups: other processes' commits are seen through `wakeToken`.
    public func onWakeup(_ handler: @escaping @Sendable () -> Void) {}

    static func isBusy(_ error: any Error) -> Bool {
        guard let e = error as? DatabaseError else { return false }
        return e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED
    }

    /// Retries `body` while it fails with SQLITE_BUSY/SQLITE_LOCKED, with a growing pause,
    /// for up to five minutes (each try already waits `busy_timeout` for the lock).
    static func retryingBusy<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(300)
        var pause = 0.002
        while true {
            do {
                return try body()
            } catch let error where isBusy(error) && Date() < deadline {
                Thread.sleep(forTimeInterval: pause * Double.random(in: 0.5...1.5))
                pause = min(pause * 2, 0.25)
            }
        }
    }

    /// Database failures reach callers as one clear sentence.
    static func wrap(_ error: any Error, path: String) -> any Error {
        if error is CrescentError || error is ChunkMiss { return error }
        if let e = error as? DatabaseError {
            if isBusy(e) { return CrescentError.failed("the database \(path) stayed locked by another process") }
            return CrescentError.failed("database \(path): \(e.message ?? "\(e.resultCode)")")
        }
        return CrescentError.failed("database \(path): \(error)")
    }
}

// MARK: value conversions

extension Date {
    /// Stored form of a time: REAL epoch seconds.
    @inline(__always) var epoch: Double { timeIntervalSince1970 }
    /// Stored form of a schedule occurrence: epoch seconds rounded to the millisecond.
    @inline(__always) var occurrenceEpoch: Double { (timeIntervalSince1970 * 1000).rounded() / 1000 }
}

@inline(__always) func dateFrom(_ epoch: Double) -> Date { Date(timeIntervalSince1970: epoch) }
@inline(__always) func dateFrom(_ epoch: Double?) -> Date? { epoch.map { Date(timeIntervalSince1970: $0) } }

// State sets are written as OR chains, never `state IN (...)`: SQLite evaluates an IN
// list of constants through a temporary b-tree, and the partial indexes' conditions run
// on every update of a job, which made that the largest cost of a completion. A query
// can use a partial index only when it repeats the index's condition verbatim.
