import CrescentCore
import Foundation

// Jobs in final states counted per queue and state, as on SQLite (SQLiteJobStore+Counts),
// kept by the statements that move jobs into or out of a final state, in the same
// statement (a data-modifying CTE). Here `job_counts` is append-only: each such statement
// adds a row per (queue, state) it changed, and runners on several hosts never wait on each
// other's counters (an upsert of one row per queue and state would serialize their
// transactions). A read sums the rows; the Pruner folds them into one row per queue and
// state once a minute (`foldJobCounts`), so a read sums a few thousand rows at most.
extension PostgresJobStore {
    static let schemaJobCounts = """
        CREATE TABLE %S.job_counts (
            queue text   NOT NULL,
            state text   NOT NULL,
            n     bigint NOT NULL
        );
        INSERT INTO %S.job_counts (queue, state, n)
        SELECT queue, state, COUNT(*) FROM %S.jobs WHERE finished_at IS NOT NULL GROUP BY queue, state;
        """

    /// The final states, as an SQL list.
    static let finalStates = "('succeeded', 'dead', 'cancelled', 'expired')"

    /// A CTE named `<source>_counted` adding the rows of CTE `source` in a final state to
    /// `job_counts`, `sign` each: `source` returns the job's queue as `cq` and the state
    /// counted (the new one after an UPDATE, the old one of a DELETE) as `cs`.
    func countedCTE(_ source: String, sign: Int) -> String {
        """
        \(source)_counted AS (
            INSERT INTO \(s)job_counts (queue, state, n)
            SELECT cq, cs, \(sign) * COUNT(*) FROM \(source) WHERE cs IN \(Self.finalStates) GROUP BY cq, cs)
        """
    }

    /// Adds counted changes the caller tallied itself.
    func addJobCounts(_ tally: [FinalKey: Int], conn: PGConnection) throws {
        let rows = tally.filter { $0.value != 0 && (JobState(rawValue: $0.key.state)?.isFinal ?? false) }
        guard !rows.isEmpty else { return }
        try conn.query("""
            INSERT INTO \(s)job_counts (queue, state, n) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
            """, [PGArray(rows.map { $0.key.queue as String? }), PGArray(rows.map { $0.key.state as String? }),
                  PGArray(rows.map { Int64($0.value) as Int64? })])
    }

    /// Replaces the rows of `job_counts` by one per queue and state (their sum; none when
    /// it is 0). Rows added meanwhile by other transactions are not seen by the DELETE and
    /// stay; a second fold at the same moment waits for this one's rows and skips them.
    func foldJobCounts(conn: PGConnection) throws {
        try conn.query("""
            WITH gone AS (DELETE FROM \(s)job_counts RETURNING queue, state, n)
            INSERT INTO \(s)job_counts (queue, state, n)
            SELECT queue, state, SUM(n) FROM gone GROUP BY queue, state HAVING SUM(n) <> 0
            """)
    }

    /// The final-state part of `jobCounts`: (queue, state, count) rows.
    var finalCountsSQL: String {
        "SELECT queue, state, SUM(n)::bigint FROM \(s)job_counts GROUP BY queue, state HAVING SUM(n) <> 0"
    }

    /// Counts the finished jobs again and replaces `job_counts` with the result (a scan of
    /// their index), holding the table's lock so that no count is added meanwhile. Returns
    /// whether the kept counts differed. After `crescent copy`, and for the tests' check
    /// that every write path keeps the counts.
    @discardableResult
    public func recountFinalJobs() throws -> Bool {
        try write { conn in try recountFinalJobs(conn: conn) }
    }

    @discardableResult
    func recountFinalJobs(conn: PGConnection) throws -> Bool {
        try conn.execute("LOCK TABLE \(s)job_counts IN EXCLUSIVE MODE")
        func snapshot(_ sql: String) throws -> Set<String> {
            let r = try conn.query(sql)
            return Set((0..<r.count).map { "\(r.string($0, 0))\u{0}\(r.string($0, 1))\u{0}\(r.int($0, 2))" })
        }
        let kept = try snapshot(finalCountsSQL)
        try conn.query("DELETE FROM \(s)job_counts")
        let counted = try snapshot("""
            INSERT INTO \(s)job_counts (queue, state, n)
            SELECT queue, state, COUNT(*) FROM \(s)jobs WHERE finished_at IS NOT NULL GROUP BY queue, state
            RETURNING queue, state, n
            """)
        return kept != counted
    }
}
