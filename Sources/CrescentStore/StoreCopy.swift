import CrescentCore
import Foundation
import GRDB

/// `crescent copy`: moving a SQLite database's jobs, runs, store values and schedule state
/// into a PostgreSQL schema, so a single-host installation can grow to several hosts.
public struct CopyCounts: Sendable, Equatable {
    public var jobs = 0
    public var runs = 0
    public var values = 0
    public var schedules = 0
    public var runSeconds = 0
}

/// One column value on its way from SQLite to PostgreSQL.
enum CopyValue {
    case null, int(Int64), real(Double), text(String)

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let i): self = .int(i)
        case .double(let d): self = .real(d)
        case .string(let s): self = .text(s)
        case .blob(let b): self = .text(String(decoding: b, as: UTF8.self))
        }
    }

    var int: Int64? {
        switch self {
        case .int(let i): return i
        case .real(let d): return d.isFinite && abs(d) < 9.2e18 ? Int64(d) : nil
        default: return nil
        }
    }

    var real: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .real(let d): return d
        default: return nil
        }
    }

    var text: String? {
        switch self {
        case .text(let s): return s
        case .int(let i): return String(i)
        case .real(let d): return String(d)
        case .null: return nil
        }
    }
}

/// A table to copy: its columns with their PostgreSQL types, and the columns it is read in
/// order of (a key, so it is read in batches that never see a row twice).
struct CopyTable {
    enum Kind: String { case bigint, int, float8, text, bool }
    let name: String
    let columns: [(name: String, kind: Kind)]
    let key: [String]
    /// Added to every row on the PostgreSQL side (columns SQLite has no use for).
    var constants: [(name: String, sql: String)] = []
    /// `ON CONFLICT …` for rows the target may already hold.
    var onConflict = ""

    static let jobs = CopyTable(name: "jobs", columns: [
        ("id", .bigint), ("task", .text), ("queue", .text), ("priority", .int), ("state", .text), ("args", .text),
        ("attempt", .int), ("max_attempts", .int), ("result", .text), ("error", .text), ("unique_key", .text),
        ("unique_period", .float8), ("scheduled_for", .float8), ("run_at", .float8), ("created_at", .float8),
        ("finished_at", .float8), ("started_at", .float8), ("expires_at", .float8), ("lease_owner", .text),
        ("cancel_requested", .bool), ("schedule", .text), ("progress", .text),
    ], key: ["id"])
    static let runs = CopyTable(name: "runs", columns: [
        ("id", .bigint), ("job_id", .bigint), ("attempt", .int), ("started_at", .float8), ("finished_at", .float8),
        ("outcome", .text), ("error", .text), ("traceback", .text), ("worker", .text),
    ], key: ["id"])
    /// The runners' published task definitions are the target's own when it has them.
    static let kv = CopyTable(name: "kv", columns: [("task", .text), ("key", .text), ("value", .text), ("updated_at", .float8)],
                              key: ["task", "key"], onConflict: "ON CONFLICT (task, key) DO NOTHING")
    static let schedules = CopyTable(name: "schedules", columns: [
        ("task", .text), ("schedule", .text), ("last_fired", .float8), ("missed_count", .bigint), ("missed_run", .bigint),
        ("missed_policy", .text), ("missed_from", .float8), ("missed_through", .float8),
    ], key: ["task", "schedule"])
    /// Counts of finished attempts per second (the dashboard's and status's minute and hour
    /// figures); PostgreSQL keeps them per process, so copied ones get a process of their own.
    static let runSeconds = CopyTable(name: "run_seconds", columns: [("second", .bigint), ("outcome", .text), ("n", .int)],
                                      key: ["second", "outcome"], constants: [("worker", "'copied from SQLite'")])
}

extension SQLiteJobStore {
    /// Up to `limit` rows of `table` after the row whose key is `after`, in key order.
    func copyRows(_ table: CopyTable, after: [CopyValue]?, limit: Int) throws -> [[CopyValue]] {
        try read { db in
            let columns = table.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
            let key = table.key.joined(separator: ", ")
            var sql = "SELECT \(columns) FROM \(table.name)"
            var arguments: [DatabaseValueConvertible?] = []
            if let after {
                sql += " WHERE (\(key)) > (\(table.key.map { _ in "?" }.joined(separator: ", ")))"
                for name in table.key {
                    switch after[table.columns.firstIndex { $0.name == name }!] {
                    case .int(let v): arguments.append(v)
                    case .real(let v): arguments.append(v)
                    case .text(let v): arguments.append(v)
                    case .null: arguments.append(nil)
                    }
                }
            }
            sql += " ORDER BY \(key) LIMIT \(limit)"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map { row in
                (0..<table.columns.count).map { CopyValue(row[$0] as DatabaseValue) }
            }
        }
    }
}

extension PostgresJobStore {
    /// Copies everything `source` holds but its processes and control flags into this schema,
    /// in one transaction: all or nothing. Ids are kept (and the sequences moved past them),
    /// so job ids users saw stay valid. Refused when this schema already holds jobs, runs,
    /// store values or schedule state. The caller checks that no runner uses either database.
    public func copy(from source: SQLiteJobStore, batch: Int = 2000) throws -> CopyCounts {
        try write { conn in
            let held = try conn.query("""
                SELECT (SELECT count(*) FROM \(s)jobs), (SELECT count(*) FROM \(s)runs),
                       (SELECT count(*) FROM \(s)kv WHERE task <> 'crescent:runner'), (SELECT count(*) FROM \(s)schedules)
                """)
            let found = zip(["jobs", "runs", "store values", "schedule states"], (0..<4).map { held.int64(0, $0) })
                .filter { $0.1 > 0 }.map { "\($0.1) \($0.0)" }
            if !found.isEmpty {
                throw CrescentError.failed("the schema \(url.schema) already holds \(found.joined(separator: ", ")); copy only into a schema no runner has used")
            }
            var counts = CopyCounts()
            counts.jobs = try copyTable(.jobs, from: source, batch: batch, conn: conn)
            try recountFinalJobs(conn: conn)
            counts.runs = try copyTable(.runs, from: source, batch: batch, conn: conn)
            counts.values = try copyTable(.kv, from: source, batch: batch, conn: conn)
            counts.schedules = try copyTable(.schedules, from: source, batch: batch, conn: conn)
            counts.runSeconds = try copyTable(.runSeconds, from: source, batch: batch, conn: conn)
            for table in ["jobs", "runs"] {
                try conn.query("""
                    SELECT setval(pg_get_serial_sequence($1, 'id'), max(id)) FROM \(s)\(table) HAVING max(id) IS NOT NULL
                    """, ["\(s)\(table)"])
            }
            if counts.jobs > 0 { try notify("default", conn: conn) }
            return counts
        }
    }

    private func copyTable(_ table: CopyTable, from source: SQLiteJobStore, batch: Int, conn: PGConnection) throws -> Int {
        let names = (table.columns.map(\.name) + table.constants.map(\.name)).map { "\"\($0)\"" }.joined(separator: ", ")
        let arrays = table.columns.enumerated().map { "$\($0.offset + 1)::\($0.element.kind.rawValue)[]" }.joined(separator: ", ")
        let aliases = table.columns.map { "\"\($0.name)\"" }.joined(separator: ", ")
        let constants = table.constants.map { ", \($0.sql)" }.joined()
        let sql = """
            INSERT INTO \(s)\(table.name) (\(names))
            SELECT \(aliases)\(constants) FROM unnest(\(arrays)) AS u(\(aliases)) \(table.onConflict)
            """
        var total = 0
        var after: [CopyValue]?
        while true {
            let rows = try source.copyRows(table, after: after, limit: batch)
            if rows.isEmpty { break }
            let binds: [PGBind?] = table.columns.enumerated().map { i, column -> PGBind? in
                switch column.kind {
                case .bigint, .int: return PGArray(rows.map { $0[i].int })
                case .bool: return PGArray(rows.map { $0[i].int.map { $0 != 0 } })
                case .float8: return PGArray(rows.map { $0[i].real })
                case .text: return PGArray(rows.map { $0[i].text })
                }
            }
            try conn.query(sql, binds)
            total += rows.count
            after = rows.last
        }
        return total
    }
}
