import CrescentCore
import Foundation

/// The PostgreSQL implementation of `JobStore`: several `crescent` processes on several
/// hosts share one database.
///
/// - Connections: a pool of `pool_size` libpq connections (a caller waits for a free one),
///   plus one that only LISTENs for wake-ups (`PostgresWakeups`). A connection found broken
///   is dropped and a new one made on the next use.
/// - Transactions: `write` runs its body in one transaction and retries it, with a pause,
///   when the connection failed before COMMIT was sent (nothing was applied); a failure
///   during COMMIT is reported, never retried (it may have applied).
/// - Conventions are SQLite's (see `SQLiteJobStore`): times are epoch seconds in `double
///   precision` columns, schedule occurrences rounded to the millisecond, the same states
///   and the same fencing on owner and attempt. Claims take rows with `FOR UPDATE SKIP
///   LOCKED`, so claimers on other hosts pass each other instead of waiting.
public final class PostgresJobStore: JobStore, @unchecked Sendable {
    public let url: PostgresURL
    /// `"crescent"."` — the schema prefix every statement's table names carry.
    let s: String
    private let pool: ConnectionPool
    let wakeups: PostgresWakeups?

    /// Connects, checks the server answers as configured, and brings the schema up to date
    /// (under an advisory lock, so processes starting together apply each migration once).
    /// Fails with a config error (exit 2) naming the problem: server unreachable, password
    /// refused, database missing, schema migrated by a newer Crescent.
    public init(url: PostgresURL) throws {
        self.url = url
        s = "\"\(url.schema)\"."
        pool = ConnectionPool(conninfo: url.conninfo, size: url.poolSize, prepares: !url.pollOnly)
        let first: PGConnection
        do {
            first = try PGConnection(conninfo: url.conninfo)
        } catch let error as PGError {
            throw Self.startFailure(error, url: url)
        }
        first.prepares = !url.pollOnly
        try Self.migrate(first, url: url)
        pool.adopt(first)
        wakeups = url.pollOnly ? nil : PostgresWakeups(conninfo: url.conninfo, channel: Self.channel(url.schema))
    }

    deinit { wakeups?.stop() }

    public var storeDescription: String { "postgres \(url.display)" }

    /// Each pooled connection writes on its own backend: the pipeline writes outcomes and
    /// claims on two at once.
    public var concurrentWriters: Bool { true }

    /// Counts the wake-ups received; the first call starts listening (before it returns), so
    /// one-shot commands that never wait for work never open the listening connection.
    public func wakeToken() throws -> Int64 {
        wakeups?.start()
        return wakeups?.token ?? 0
    }

    public func onWakeup(_ handler: @escaping @Sendable () -> Void) {
        wakeups?.start()
        wakeups?.onWakeup(handler)
    }

    /// The NOTIFY channel of a schema's wake-ups.
    static func channel(_ schema: String) -> String { "crescent_wake_\(schema)" }

    /// Drops this store's schema with everything in it (throw-away schemas of tests and
    /// benchmarks).
    public func dropSchema() throws {
        wakeups?.stop()
        try read { conn in try conn.execute("DROP SCHEMA IF EXISTS \"\(url.schema)\" CASCADE") }
    }

    // MARK: database access

    /// Runs `body` in one transaction on a pooled connection. A connection lost before
    /// COMMIT is retried on a new connection for up to `retryWindow` seconds.
    func write<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try withRetry { conn in try conn.transaction { try body(conn) } }
    }

    /// Runs `body` on a pooled connection outside a transaction (each statement its own).
    func read<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try withRetry(body)
    }

    /// How long a lost connection is retried before the caller sees the failure.
    static let retryWindow: TimeInterval = 2

    private func withRetry<T>(_ body: (PGConnection) throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(Self.retryWindow)
        var pause = 0.05
        while true {
            let conn: PGConnection
            do {
                conn = try pool.take()
            } catch let error as PGError {
                if Date() < deadline { Thread.sleep(forTimeInterval: pause); pause = min(pause * 2, 0.5); continue }
                throw wrap(error)
            }
            do {
                let value = try body(conn)
                pool.give(conn)
                return value
            } catch let error as PGError {
                let broken = conn.isBroken
                pool.give(broken ? nil : conn)
                // Retried only when nothing can have been applied: the connection failed and
                // the failure was not in COMMIT (`PGConnection.transaction` marks that one).
                if broken && !error.duringCommit && Date() < deadline {
                    Thread.sleep(forTimeInterval: pause)
                    pause = min(pause * 2, 0.5)
                    continue
                }
                throw wrap(error)
            } catch {
                pool.give(conn.isBroken ? nil : conn)
                throw error
            }
        }
    }

    /// Database failures reach callers as one sentence naming the database (never its password).
    func wrap(_ error: any Error) -> any Error {
        if error is CrescentError { return error }
        if let e = error as? PGError {
            if e.connectionFailed { return CrescentError.failed("database \(url.display): connection lost (\(Self.firstLine(e.message)))") }
            return CrescentError.failed("database \(url.display): \(Self.firstLine(e.message))")
        }
        return CrescentError.failed("database \(url.display): \(error)")
    }

    static func firstLine(_ s: String) -> String {
        let line = s.split(separator: "\n").first.map(String.init) ?? s
        return line.hasPrefix("ERROR:  ") ? String(line.dropFirst(8)) : line
    }

    /// The start-up failures users meet, each in one sentence (exit 2).
    static func startFailure(_ error: PGError, url: PostgresURL) -> CrescentError {
        let m = error.message
        let reason: String
        if m.contains("password authentication failed") || m.contains("no password supplied") {
            reason = "the server refused the user name or password"
        } else if m.contains("does not exist") && m.contains("database") {
            reason = "the database does not exist on the server (\(firstLine(m).replacingOccurrences(of: "FATAL:  ", with: "")))"
        } else if m.contains("Connection refused") || m.contains("could not translate host name")
                    || m.contains("timeout expired") || m.contains("No route to host") || m.contains("Network is unreachable")
                    || m.contains("could not connect") {
            reason = "cannot reach the server (\(firstLine(m).replacingOccurrences(of: "FATAL:  ", with: "")))"
        } else {
            reason = firstLine(m).replacingOccurrences(of: "FATAL:  ", with: "")
        }
        return CrescentError(.config, "database \(url.display): \(reason)", field: "database")
    }
}

/// The store's connections: up to `size`, made on demand; a caller waits for a free one.
final class ConnectionPool: @unchecked Sendable {
    private let conninfo: String
    private let size: Int
    private let prepares: Bool
    private let cond = NSCondition()
    private var idle: [PGConnection] = []
    private var open = 0

    init(conninfo: String, size: Int, prepares: Bool) {
        self.conninfo = conninfo; self.size = size; self.prepares = prepares
    }

    func take() throws -> PGConnection {
        cond.lock()
        while idle.isEmpty && open >= size { cond.wait() }
        if let conn = idle.popLast() {
            cond.unlock()
            return conn
        }
        open += 1
        cond.unlock()
        do {
            let conn = try PGConnection(conninfo: conninfo)
            conn.prepares = prepares
            return conn
        } catch {
            cond.lock()
            open -= 1
            cond.signal()
            cond.unlock()
            throw error
        }
    }

    /// Adds a connection made outside the pool.
    func adopt(_ conn: PGConnection) {
        cond.lock()
        open += 1
        idle.append(conn)
        cond.signal()
        cond.unlock()
    }

    /// Returns a connection taken with `take`, or nil when it broke (its slot frees up).
    func give(_ conn: PGConnection?) {
        cond.lock()
        if let conn { idle.append(conn) } else { open -= 1 }
        cond.signal()
        cond.unlock()
    }
}
