import CrescentCore
import Foundation
import Testing

/// Issue 19, item 7: `status` reports every task whose queued jobs wait for a missing task
/// file, however many newer jobs there are; a clean `run` stop leaves no large WAL behind.
@Suite(.serialized) struct StatusAndWALTests {
    @Test func statusCountsEveryJobWaitingForAMissingTask() throws {
        let p = try Project(config: ReliabilityTests.config(), tasks: [
            "known.lua": "return { handler = function(job) return 1 end }",
        ])
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        let t = Date().timeIntervalSince1970
        // Older jobs of two deleted tasks, then more newer queued jobs of a loaded task than the
        // old report looked at.
        _ = p.sql("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
            INSERT INTO jobs (task, queue, state, max_attempts, run_at, created_at)
            SELECT CASE WHEN i <= 1200 THEN 'gone' WHEN i <= 1250 THEN 'also_gone' ELSE 'known' END,
                   'default', 'queued', 1, \(t), \(t) FROM n;
            INSERT INTO jobs (task, queue, state, max_attempts, run_at, created_at, finished_at)
            VALUES ('gone', 'default', 'succeeded', 1, \(t), \(t), \(t));
            """)
        let r = try p.run(["status", "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        let missing = r.json?["waiting_for_missing_task"]
        print("waiting_for_missing_task: \(missing.map { "\($0)" } ?? "none")")
        #expect(missing == .object(["gone": .int(1200), "also_gone": .int(50)]))
    }

    @Test(.enabled(if: TestStore.isSQLite, "SQLite only: checks the database's -wal file"))
    func cleanStopTruncatesTheWAL() throws {
        let n = 20_000
        let p = try Project(config: ReliabilityTests.config(), tasks: ["seed.lua": ReliabilityTests.seed,
                                                                       "work.lua": ReliabilityTests.work(sleep: nil)])
        #expect(try p.run(["enqueue", "seed", "--args", "{\"n\": \(n), \"pad\": \"\(String(repeating: "x", count: 200))\"}"]).code == 0)
        let r = try p.run(["run", "--queues", "seed", "--limit", "1"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        let wal = p.fileSize(p.databasePath + "-wal")
        print("WAL after a \(n)-push transaction and a clean stop: \(wal) bytes")
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'work'") == n)
        #expect(wal == 0)
    }
}
