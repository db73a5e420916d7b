import CPostgres
import Foundation

/// One libpq connection, used by one thread at a time (the pool hands it out). Parameters
/// and results travel in text form; statements are prepared once per connection, on first use.
final class PGConnection {
    let handle: OpaquePointer
    /// SQL text → prepared statement name on this connection.
    private var prepared: [String: String] = [:]

    /// Connects with a libpq connection string or URI; throws `PGError` (with
    /// `connectionFailed`) naming libpq's reason.
    init(conninfo: String) throws {
        guard let conn = PQconnectdb(conninfo) else {
            throw PGError(message: "out of memory", sqlState: nil, connectionFailed: true)
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.text(PQerrorMessage(conn))
            PQfinish(conn)
            throw PGError(message: message, sqlState: nil, connectionFailed: true)
        }
        handle = conn
        // Server notices (`NOTICE: … skipping`, `DETAIL: drop cascades …`) would go to stderr,
        // through CLI output and JSON logs: nothing Crescent says comes that way.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { PQfinish(handle) }

    /// Whether the server connection is gone (a failed statement told us so).
    var isBroken: Bool { PQstatus(handle) != CONNECTION_OK }

    /// The server process serving this connection.
    var backendPID: Int32 { PQbackendPID(handle) }

    /// The socket, for waiting on notifications.
    var socket: Int32 { PQsocket(handle) }

    /// Runs `sql` (one or more statements, no parameters) and fails on any error.
    func execute(_ sql: String) throws {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result)
    }

    /// Whether `query` prepares statements on the server (false behind PgBouncer in
    /// transaction mode, where a prepared statement may live on another server connection:
    /// each query is then parsed with its parameters, unnamed).
    var prepares = true

    /// Runs one statement with `params` (`$1`, `$2`, …), prepared on first use.
    @discardableResult
    func query(_ sql: String, _ params: [PGBind?] = []) throws -> PGResult {
        let texts = try Self.texts(params)
        if !prepares {
            let result = withCStrings(texts) { pointers in
                PQexecParams(handle, sql, Int32(texts.count), nil, pointers, nil, nil, 0)
            }
            return try rows(result)
        }
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(prepared.count)"
            let made = PQprepare(handle, name, sql, Int32(params.count), nil)
            defer { PQclear(made) }
            try check(made)
            prepared[sql] = name
        }
        let result = withCStrings(texts) { pointers in
            PQexecPrepared(handle, name, Int32(texts.count), pointers, nil, nil, 0)
        }
        return try rows(result)
    }

    /// A statement's result as rows, or its failure (the result freed).
    private func rows(_ result: OpaquePointer?) throws -> PGResult {
        do {
            try check(result)
        } catch {
            PQclear(result)
            throw error
        }
        guard let result else { throw PGError(message: "out of memory", sqlState: nil, connectionFailed: isBroken) }
        return PGResult(result)
    }

    /// The parameters' text forms. PostgreSQL's text holds no NUL character (and a C string
    /// would end there, silently cutting the value): such a value is refused.
    static func texts(_ params: [PGBind?]) throws -> [String?] {
        try params.map { param in
            guard let text = param?.pgText else { return nil }
            if text.utf8.contains(0) {
                throw PGError(message: "a value contains a NUL character, which PostgreSQL text cannot hold", sqlState: "22021",
                              connectionFailed: false)
            }
            return text
        }
    }

    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN")
        let value: T
        do {
            value = try body()
        } catch {
            if !isBroken { _ = PQexec(handle, "ROLLBACK").map { PQclear($0) } }
            throw error
        }
        do {
            try execute("COMMIT")
        } catch var error as PGError {
            error.duringCommit = true
            throw error
        }
        return value
    }

    /// Notifications received so far (after `consumeInput`): channel and payload.
    func notifications() -> [(channel: String, payload: String)] {
        var out: [(String, String)] = []
        while let n = PQnotifies(handle) {
            out.append((String(cString: n.pointee.relname), String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }

    /// Reads what the server sent; false when the connection is gone.
    func consumeInput() -> Bool { PQconsumeInput(handle) == 1 }

    private func check(_ result: OpaquePointer?) throws {
        let status = result.map(PQresultStatus) ?? PGRES_FATAL_ERROR
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return }
        var message = Self.text(result.map { PQresultErrorMessage($0) } ?? PQerrorMessage(handle))
        if message.isEmpty { message = Self.text(PQerrorMessage(handle)) }
        let state = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) }
        throw PGError(message: message, sqlState: state, connectionFailed: isBroken)
    }

    static func text(_ p: UnsafePointer<CChar>?) -> String {
        guard let p else { return "" }
        return String(cString: p).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Calls `body` with C strings for `texts` (NULL for nil), alive during the call.
private func withCStrings<R>(_ texts: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    var owned: [UnsafeMutablePointer<CChar>?] = texts.map { $0.map { strdup($0) } }
    defer { for p in owned { free(p) } }
    return owned.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: max(buffer.count, 1)) {
            body(buffer.count == 0 ? nil : UnsafePointer($0))
        }
    }
}

/// A failure libpq or the server reported.
struct PGError: Error, CustomStringConvertible {
    var message: String
    /// The SQLSTATE code (e.g. `23505` unique violation), when the server sent one.
    var sqlState: String?
    /// The connection is gone (could not connect, or lost during the statement).
    var connectionFailed: Bool
    /// Raised by COMMIT: the transaction may or may not have been applied.
    var duringCommit = false
    var description: String { message }
}

/// A query's rows, read in text form.
final class PGResult {
    private let handle: OpaquePointer
    let count: Int

    init(_ handle: OpaquePointer) {
        self.handle = handle
        count = Int(PQntuples(handle))
    }

    deinit { PQclear(handle) }

    /// Rows changed by an INSERT / UPDATE / DELETE.
    var affected: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    @inline(__always) func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

    func string(_ row: Int, _ column: Int) -> String { String(cString: PQgetvalue(handle, Int32(row), Int32(column))) }
    func stringOrNil(_ row: Int, _ column: Int) -> String? { isNull(row, column) ? nil : string(row, column) }

    func int64(_ row: Int, _ column: Int) -> Int64 { strtoll(PQgetvalue(handle, Int32(row), Int32(column)), nil, 10) }
    func int64OrNil(_ row: Int, _ column: Int) -> Int64? { isNull(row, column) ? nil : int64(row, column) }
    func int(_ row: Int, _ column: Int) -> Int { Int(int64(row, column)) }

    func double(_ row: Int, _ column: Int) -> Double { strtod(PQgetvalue(handle, Int32(row), Int32(column)), nil) }
    func doubleOrNil(_ row: Int, _ column: Int) -> Double? { isNull(row, column) ? nil : double(row, column) }

    func bool(_ row: Int, _ column: Int) -> Bool { PQgetvalue(handle, Int32(row), Int32(column)).pointee == UInt8(ascii: "t") }
}

/// A value bound to a statement parameter, in PostgreSQL's text input form.
protocol PGBind {
    var pgText: String { get }
}

extension String: PGBind { var pgText: String { self } }
extension Int: PGBind { var pgText: String { String(self) } }
extension Int64: PGBind { var pgText: String { String(self) } }
extension Int32: PGBind { var pgText: String { String(self) } }
extension Bool: PGBind { var pgText: String { self ? "t" : "f" } }
extension Double: PGBind {
    /// Shortest text that reads back as the same double (float8 input is exact for it).
    var pgText: String { "\(self)" }
}

/// An array parameter (`$1::bigint[]`, `$2::text[]`): binds many rows in one statement.
struct PGArray: PGBind {
    let pgText: String

    init<S: Sequence>(_ values: S) where S.Element == Int64 {
        pgText = "{" + values.map(String.init).joined(separator: ",") + "}"
    }

    init<S: Sequence>(_ values: S) where S.Element == Int64? {
        pgText = "{" + values.map { $0.map(String.init) ?? "NULL" }.joined(separator: ",") + "}"
    }

    init<S: Sequence>(_ values: S) where S.Element == Int {
        pgText = "{" + values.map(String.init).joined(separator: ",") + "}"
    }

    init<S: Sequence>(_ values: S) where S.Element == Double? {
        pgText = "{" + values.map { $0.map { "\($0)" } ?? "NULL" }.joined(separator: ",") + "}"
    }

    init<S: Sequence>(_ values: S) where S.Element == Bool {
        pgText = "{" + values.map { $0 ? "t" : "f" }.joined(separator: ",") + "}"
    }

    init<S: Sequence>(_ values: S) where S.Element == Bool? {
        pgText = "{" + values.map { $0.map { $0 ? "t" : "f" } ?? "NULL" }.joined(separator: ",") + "}"
    }

    /// Text elements, each quoted (`"` and `\` escaped); nil is NULL.
    init<S: Sequence>(_ values: S) where S.Element == String? {
        var out = "{"
        var first = true
        for value in values {
            if !first { out += "," }
            first = false
            guard let value else { out += "NULL"; continue }
            out += "\""
            for ch in value.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        pgText = out + "}"
    }
}
