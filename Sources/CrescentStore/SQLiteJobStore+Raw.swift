import CrescentCore
import Foundation
import GRDB
import GRDBSQLite

/// Binding and stepping the hot path's cached statements through SQLite's C API.
///
/// GRDB's `StatementArguments` box every value in an existential and build arrays per
/// call; on the claim/complete/insert path that was a visible share of the writer's time.
/// These helpers bind straight into the prepared statement. They are only used on
/// statements from `db.cachedStatement`, inside a GRDB transaction, and always reset the
/// statement afterwards, so GRDB finds it as it left it. Bindings are not cleared: every
/// use, ours or GRDB's, binds every parameter again (clearing cost ~1k instructions).
struct RawStatement {
    let handle: OpaquePointer
    let db: Database

    init(_ statement: Statement, _ db: Database) {
        handle = statement.sqliteStatement
        self.db = db
        sqlite3_reset(handle)
    }

    /// SQLite copies the bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    @inline(__always) func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }
    @inline(__always) func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }
    @inline(__always) func bind(_ index: Int32, _ value: Bool) { sqlite3_bind_int64(handle, index, value ? 1 : 0) }
    @inline(__always) func bind(_ index: Int32, _ value: Double) { sqlite3_bind_double(handle, index, value) }

    @inline(__always) func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    @inline(__always) func bind(_ index: Int32, _ value: Double?) {
        if let value { sqlite3_bind_double(handle, index, value) } else { sqlite3_bind_null(handle, index) }
    }

    func bind(_ index: Int32, _ value: String?) {
        guard var value else { sqlite3_bind_null(handle, index); return }
        value.withUTF8 { buffer in
            if let base = buffer.baseAddress, buffer.count > 0 {
                _ = UnsafeRawPointer(base).withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                    sqlite3_bind_text(handle, index, $0, Int32(buffer.count), Self.transient)
                }
            } else {
                // An empty string binds '' (not NULL).
                sqlite3_bind_text(handle, index, "", 0, Self.transient)
            }
        }
    }

    /// Runs a statement that returns no rows; resets it.
    func run() throws {
        let code = sqlite3_step(handle)
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE else { throw failure(code) }
    }

    /// Steps once: true with a row ready to read, false when done.
    func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        throw failure(code)
    }

    /// Resets after `step()` reads.
    func finish() {
        sqlite3_reset(handle)
    }

    @inline(__always) func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    @inline(__always) func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    @inline(__always) func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    @inline(__always) func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }
    @inline(__always) func doubleOrNil(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }

    func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    func stringOrNil(_ column: Int32) -> String? { isNull(column) ? nil : string(column) }

    private func failure(_ code: Int32) -> DatabaseError {
        let message = sqlite3_errmsg(db.sqliteConnection).map { String(cString: $0) }
        sqlite3_reset(handle)
        return DatabaseError(resultCode: ResultCode(rawValue: sqlite3_extended_errcode(db.sqliteConnection)), message: message,
                             sql: sqlite3_sql(handle).map { String(cString: $0) })
    }
}

/// The hot path's statements within one write transaction, each looked up once: GRDB's
/// statement cache hashes the whole SQL text on every lookup, which was a visible share
/// of a completion's cost when done per job.
final class HotStatements {
    let db: Database
    private var plainInsert: RawStatement?
    private var chunkInsert: RawStatement?
    private var finishUpdate: RawStatement?
    private var finishChunkUpdate: RawStatement?
    private var succeedChunkUpdate: RawStatement?
    private var runInsert: RawStatement?
    private var runChunkInsert: RawStatement?
    private var tallyUpsert: RawStatement?
    /// Run rows of finished attempts not yet inserted (`addRun`, `flushRuns`).
    private var runs: [RunRow] = []
    /// Finished attempts per (second, outcome) not yet added to `run_seconds`.
    private var tallies: [(second: Int64, outcome: String, n: Int)] = []
    /// Jobs moved into final states, per (queue, state), not yet added to `job_counts`.
    var finals: [(queue: String, state: JobState, n: Int)] = []

    init(_ db: Database) { self.db = db }

    private func prepared(_ slot: inout RawStatement?, _ sql: String) throws -> RawStatement {
        if let statement = slot { return statement }
        let statement = RawStatement(try db.cachedStatement(sql: sql), db)
        slot = statement
        return statement
    }

    func insert() throws -> RawStatement { try prepared(&plainInsert, SQLiteJobStore.insertSQL) }
    func insertChunk() throws -> RawStatement { try prepared(&chunkInsert, SQLiteJobStore.insertChunkSQL) }
    func finish() throws -> RawStatement { try prepared(&finishUpdate, SQLiteJobStore.finishSQL) }
    func finishChunk() throws -> RawStatement { try prepared(&finishChunkUpdate, SQLiteJobStore.finishChunkSQL) }
    func succeedChunk() throws -> RawStatement { try prepared(&succeedChunkUpdate, SQLiteJobStore.succeedChunkSQL) }

    /// Queues a run row; full chunks are inserted at once, several rows per statement.
    func addRun(_ row: RunRow) throws {
        runs.append(row)
        tally(row)
        if runs.count == SQLiteJobStore.insertChunk { try insertRuns() }
    }

    /// Inserts the queued run rows and their counts, and the final-state counts of the
    /// jobs finished. Call before the transaction ends.
    func flushRuns() throws {
        try insertRuns()
        try writeTallies()
        try writeFinalCounts()
    }

    @inline(__always)
    private func tally(_ row: borrowing RunRow) {
        let second = Int64(row.finishedAt.rounded(.down))
        let outcome = row.outcome.rawValue
        for i in tallies.indices where tallies[i].second == second && tallies[i].outcome == outcome {
            tallies[i].n += 1
            return
        }
        tallies.append((second, outcome, 1))
    }

    /// Adds the counts of the run rows written to `run_seconds` (the rollup the status and
    /// the dashboard read).
    private func writeTallies() throws {
        guard !tallies.isEmpty else { return }
        let raw = try prepared(&tallyUpsert, SQLiteJobStore.runTallySQL)
        for t in tallies {
            raw.bind(1, t.second)
            raw.bind(2, t.outcome)
            raw.bind(3, t.n)
            try raw.run()
        }
        tallies.removeAll(keepingCapacity: true)
    }

    private func insertRuns() throws {
        if runs.count == SQLiteJobStore.insertChunk {
            let raw = try prepared(&runChunkInsert, SQLiteJobStore.runChunkSQL)
            for (i, row) in runs.enumerated() { row.bind(to: raw, at: Int32(i)) }
            try raw.run()
        } else {
            let raw = try prepared(&runInsert, SQLiteJobStore.runSQL)
            for row in runs {
                row.bind(to: raw, at: 0)
                try raw.run()
            }
        }
        runs.removeAll(keepingCapacity: true)
    }
}
