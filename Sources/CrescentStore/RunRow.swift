import CrescentCore

/// A finished attempt's row, as both stores write it (SQLite in chunks through
/// `HotStatements.flushRuns`, PostgreSQL in one statement per transaction, `insertRuns`).
struct RunRow {
        var jobID: Int64
        var attempt: Int
        var startedAt: Double
        var finishedAt: Double
        var outcome: RunOutcome
        var error: String?
        var traceback: String?
        var worker: String
}
