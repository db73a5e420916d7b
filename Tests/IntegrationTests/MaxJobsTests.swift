import CrescentCore
import Foundation
import Testing

/// `[workers] max_jobs` / `run --max-jobs` and `--queues` checks against the real binary (issue 15).
@Suite(.serialized) struct MaxJobsTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 4
        [[queues]]
        name = "maintenance"
        concurrency = 5
        [[queues]]
        name = "import"
        concurrency = 5
        [[queues]]
        name = "ui"
        concurrency = 5
        [log]
        level = "warn"
        """

    /// Numbers its runs in order (the store write commits with the attempt's success).
    static let tasks = [
        "count.lua": """
            return {
              handler = function(job)
                sleep("20ms")
                local n = (store.get("n") or 0) + 1
                store.set("n", n)
                return n
              end,
            }
            """,
        "slow.lua": "return { handler = function(job) sleep(\"300ms\") return job.queue end }\n",
    ]

    /// With one job at a time, every `ui` job runs before any `import` job, and those before
    /// `maintenance`, whatever the enqueue order.
    @Test func oneJobAtATimeInQueueOrder() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        var queueOf: [Int64: String] = [:]
        for _ in 0..<3 {
            for queue in ["maintenance", "import", "ui"] { queueOf[try project.opsEnqueue("count", ["--queue", queue])] = queue }
        }
        let run = try project.run(["run", "--max-jobs", "1", "--queues", "ui,import,maintenance", "--limit", "\(queueOf.count)"])
        #expect(run.code == 0, "\(run.stderr)")
        var order: [(seq: Int64, queue: String, start: String, end: String)] = []
        for (id, queue) in queueOf {
            let job = try #require(try project.opsJob(id))
            #expect(job["state"] == .string("succeeded"))
            let r = try #require(job["runs"]?.array.last)
            order.append((job["result"]?.intValue ?? -1, queue, r["started_at"]?.stringValue ?? "", r["finished_at"]?.stringValue ?? ""))
        }
        order.sort { $0.seq < $1.seq }
        #expect(order.map(\.seq) == Array(1...Int64(queueOf.count)))
        #expect(order.map(\.queue) == Array(repeating: "ui", count: 3) + Array(repeating: "import", count: 3) + Array(repeating: "maintenance", count: 3))
        // Never two at once: each attempt starts once the one before it has finished.
        for (prev, next) in zip(order, order.dropFirst()) { #expect(prev.end <= next.start, "\(prev) overlaps \(next)") }
        print("max-jobs 1: \(order.count) jobs ran one at a time in the order \(order.map(\.queue).joined(separator: ","))")
    }

    /// Two processes with `max_jobs = 1` on one database: each runs one job at a time, both work.
    @Test func capHoldsPerProcessWithTwoRunners() throws {
        let project = try Project(config: Self.config.replacingOccurrences(of: "threads = 4", with: "threads = 4\nmax_jobs = 1"),
                                  tasks: Self.tasks)
        let a = try OpsRunner(project), b = try OpsRunner(project)
        let ids = try (0..<8).map { i in try project.opsEnqueue("slow", ["--queue", ["ui", "import"][i % 2]]) }
        var runs: [String: [(String, String)]] = [:]
        for id in ids {
            let job = try #require(try project.opsWaitFor(id, "succeeded", timeout: 30))
            let r = try #require(job["runs"]?.array.last)
            runs[r["worker"]?.stringValue ?? "", default: []].append((r["started_at"]?.stringValue ?? "", r["finished_at"]?.stringValue ?? ""))
        }
        #expect(runs.count == 2, "both processes ran jobs: \(runs.keys)")
        for (worker, spans) in runs {
            let sorted = spans.sorted { $0.0 < $1.0 }
            for (prev, next) in zip(sorted, sorted.dropFirst()) { #expect(prev.1 <= next.0, "\(worker): \(prev) overlaps \(next)") }
        }
        print("max_jobs 1, two processes: \(runs.mapValues(\.count).values.sorted()) jobs each, none overlapping within a process")
        #expect(try project.run(["stop"]).code == 0)
        #expect(a.waitForExit() == 0)
        #expect(b.waitForExit() == 0)
    }

    @Test func unknownQueueAndBadLimitsAreRefused() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let typo = try project.run(["run", "--queues", "ui,imprt"])
        #expect(typo.code == 2)
        #expect(typo.stderr.contains("no queue named \"imprt\"") && typo.stderr.contains("import, maintenance, ui"), "\(typo.stderr)")
        let zero = try project.run(["run", "--max-jobs", "0"])
        #expect(zero.code == 2 && zero.stderr.contains("--max-jobs must be at least 1"), "\(zero.stderr)")
        #expect(try project.run(["status", "--json"]).json?["processes"]?.array.isEmpty == true)
        try project.write("crescent.toml", Self.config.replacingOccurrences(of: "threads = 4", with: "threads = 4\nmax_jobs = -1"))
        let bad = try project.run(["run"])
        #expect(bad.code == 2 && bad.stderr.contains("workers.max_jobs\": must be from 1 to 1000000, got -1"), "\(bad.stderr)")
    }
}
