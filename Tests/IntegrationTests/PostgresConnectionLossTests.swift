import CrescentCore
import Foundation
import Testing

/// A PostgreSQL server restarted under a running `crescent run`: the runner logs the loss,
/// does not exit, and goes on once the server is back; no acknowledged job is lost. The test
/// starts its own throw-away cluster (scripts/pg-cluster.sh) so it never disturbs the shared one.
@Suite(.serialized, .enabled(if: TestStore.hasPostgres, "needs PostgreSQL (CRESCENT_TEST_POSTGRES_URL)"))
struct PostgresConnectionLossTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `scripts/pg-cluster.sh ARGS` → (exit code, stdout + stderr). Through `system`, output to a
    /// file: the server the script starts lives on, and Foundation's Process was seen to miss
    /// the script's exit then.
    static func cluster(_ args: [String]) -> (Int32, String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pg-cluster-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: file) }
        let words = [root.appendingPathComponent("scripts/pg-cluster.sh").path] + args
        let command = "/bin/bash " + words.map { "'" + $0 + "'" }.joined(separator: " ") + " >'\(file.path)' 2>&1 </dev/null"
        let status = system(command)
        let code: Int32 = status == -1 ? -1 : (status >> 8) & 0xff
        return (code, (try? String(contentsOf: file, encoding: .utf8)) ?? "")
    }

    /// Whether a JSON log holds a warning or error about the lost database.
    static func lossLogged(_ log: String) -> Bool {
        log.split(separator: "\n").contains { line in
            let l = line.lowercased()
            return (l.contains("\"warn") || l.contains("\"error")) && (l.contains("connect") || l.contains("postgres") || l.contains("server") || l.contains("database"))
        }
    }

    static let tasks = [
        "work.lua": "return { handler = function(job) return job.args.i end }",
        "slow.lua": "return { handler = function(job) sleep(\"1500ms\") return job.args.i end }",
    ]

    @Test func serverRestartIsSurvivedAndNoAcknowledgedJobIsLost() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-pg-\(UUID().uuidString.prefix(8))").path
        let port = FuzzBinaryTests.freePort()
        let (code, started) = Self.cluster(["start", dir, "\(port)"])
        defer { _ = Self.cluster(["stop", dir]) }
        guard code == 0, let base = started.split(separator: "\n").last.map(String.init), base.hasPrefix("postgres") else {
            print("skipped: could not start a cluster of this test's own: \(started)")
            return
        }
        let p = try Project(config: "", tasks: Self.tasks)
        let url = TestStore.url(base, schema: p.schema)
        try p.write("crescent.toml", """
            database = "\(url)"
            [workers]
            threads = 2
            lease = "5s"
            shutdown_timeout = "5s"
            [log]
            format = "json"
            level = "info"
            """)
        func rows(_ query: String) -> [String] { PSQL.run(url, query, searchPath: p.schema).rows }
        func succeeded(_ ids: [Int64]) -> Int {
            ids.isEmpty ? 0 : Int(rows("SELECT count(*) FROM jobs WHERE state = 'succeeded' AND id IN (\(ids.map(String.init).joined(separator: ",")))").first ?? "") ?? 0
        }
        /// `crescent enqueue`; the id when it was acknowledged (exit 0).
        func enqueue(_ task: String, _ i: Int) throws -> Int64? {
            let r = try p.run(["enqueue", task, "--args", "{\"i\": \(i)}", "--json"])
            return r.code == 0 ? r.json?["id"]?.intValue : nil
        }

        let runner = try OpsRunner(p)
        var acknowledged: [Int64] = []
        for i in 0..<10 { if let id = try enqueue("work", i) { acknowledged.append(id) } }
        #expect(acknowledged.count == 10)
        #expect(waitFor(timeout: 30) { succeeded(acknowledged) == acknowledged.count }, "the first jobs ran")

        // Slow jobs still running when the server goes down.
        for i in 10..<14 { if let id = try enqueue("slow", i) { acknowledged.append(id) } }
        #expect(waitFor(timeout: 30) { rows("SELECT count(*) FROM jobs WHERE task = 'slow' AND state = 'running'").first.flatMap { Int($0) } ?? 0 > 0 })
        let logBefore = runner.stderr.count
        let (down, downOut) = Self.cluster(["down", dir])
        #expect(down == 0, "pg_ctl stop: \(downOut)")
        // While the server is down, enqueues fail (not acknowledged) and the runner stays up.
        let refused = try p.run(["enqueue", "work", "--args", "{\"i\": -1}"])
        #expect(refused.code != 0, "an enqueue with the server down is refused")
        // Down until the runner has met the loss (its heartbeat reads every second or so).
        let met = waitFor(timeout: 30, every: 0.2) { Self.lossLogged(String(runner.stderr.dropFirst(logBefore))) }
        #expect(met, "the runner logged the lost connection while the server was down")
        let (up, upOut) = Self.cluster(["up", dir])
        #expect(up == 0, "pg_ctl start: \(upOut)")
        #expect(runner.process.isRunning, "the runner did not exit while the server was down")

        for i in 14..<24 {
            let id = try opsEventually(30) { try enqueue("work", i) }
            if let id { acknowledged.append(id) }
        }
        #expect(acknowledged.count == 24)
        let all = waitFor(timeout: 90, every: 0.2) { succeeded(acknowledged) == acknowledged.count }
        let outage = String(runner.stderr.dropFirst(logBefore))
        let lossLogged = Self.lossLogged(outage)
        print("""
            server restart: \(succeeded(acknowledged)) of \(acknowledged.count) acknowledged jobs succeeded; \
            runner up \(runner.process.isRunning); log during the outage: \(outage.prefix(1500))
            """)
        #expect(all, "every acknowledged job succeeded after the restart")
        #expect(runner.process.isRunning, "the runner is still running")
        #expect(lossLogged, "the runner logged the lost connection")
        #expect(!outage.contains("crescent-test"), "no password in the log")
        runner.signal(SIGINT)
        #expect(runner.waitForExit(30) == 0)
    }
}
