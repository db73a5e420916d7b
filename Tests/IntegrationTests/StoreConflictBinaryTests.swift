import CrescentCore
import Foundation
import Testing

/// Concurrent `store` updates against the real binary (issue 18, item 9): a handler's store
/// reads are checked when its success commits, so read-modify-write updates are never lost;
/// an attempt whose read went stale runs again (run outcome `conflict`); `store.incr` adds
/// up without conflicts. On one runner and on two runner processes sharing the database.
@Suite(.serialized) struct StoreConflictBinaryTests {
    static func config(concurrency: Int) -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 2
        shutdown_timeout = "2s"
        [[queues]]
        name = "default"
        concurrency = \(concurrency)
        [[queues]]
        name = "seed"
        concurrency = 1
        [log]
        format = "json"
        level = "warn"
        """
    }

    /// `store.set("n", (store.get("n") or 0) + 1)`, with a short wait between the read and
    /// the write so that attempts overlap for certain.
    static let readModifyWrite = """
        return {
          handler = function(job)
            local n = (store.get("n") or 0) + 1
            sleep("5ms")
            store.set("n", n)
            return n
          end,
        }
        """

    static let increment = """
        return {
          handler = function(job)
            local seen = store.incr("n")
            sleep("5ms")
            return seen
          end,
        }
        """

    /// Pushes `args.n` jobs of `args.task`.
    static let seed = """
        return {
          queue = "seed",
          handler = function(job)
            for i = 1, job.args.n do queue.push(job.args.task, { i = i }) end
            return job.args.n
          end,
        }
        """

    func project(concurrency: Int) throws -> Project {
        try Project(config: Self.config(concurrency: concurrency), tasks: [
            "rmw.lua": Self.readModifyWrite, "incr.lua": Self.increment, "seed.lua": Self.seed,
        ])
    }

    func seed(_ p: Project, task: String, n: Int) throws {
        let e = try p.run(["enqueue", "seed", "--args", #"{"n": \#(n), "task": "\#(task)"}"#])
        #expect(e.code == 0, "\(e.stderr)")
        let r = try p.run(["run", "--queues", "seed", "--limit", "1"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = '\(task)'") == n)
    }

    /// Runs `runners` processes until every job of the tasks has succeeded (or the time is up).
    func drain(_ p: Project, tasks: [String], n: Int, runners: Int) throws -> [String] {
        let list = tasks.map { "'\($0)'" }.joined(separator: ",")
        let procs = try (0..<runners).map { _ in try Background(p, ["run", "--queues", "default"]) }
        let done = waitFor(timeout: 180, every: 0.1) {
            p.sqlInt("SELECT count(*) FROM jobs WHERE task IN (\(list)) AND state = 'succeeded'") == n * tasks.count
        }
        #expect(done, "every job succeeded")
        var logs: [String] = []
        for r in procs {
            #expect(r.interrupt() == 0)
            logs.append(r.err.text())
        }
        return logs
    }

    /// The issue's reproduction: five jobs of one task, concurrency 5. Their results are
    /// 1 to 5 (no update lost) and the store ends at 5.
    @Test func fiveReadModifyWriteJobsEndAtFive() throws {
        let p = try project(concurrency: 5)
        for _ in 0..<5 { #expect(try p.run(["enqueue", "rmw"]).code == 0) }
        let logs = try drain(p, tasks: ["rmw"], n: 5, runners: 1)
        let results = p.sql("SELECT result FROM jobs WHERE task = 'rmw'").compactMap { Int($0) }.sorted()
        #expect(results == [1, 2, 3, 4, 5])
        #expect(p.sql("SELECT value FROM kv WHERE task = 'rmw' AND key = 'n'") == ["5"])
        // A re-run uses no attempt: every job succeeded on attempt 1.
        #expect(p.sql("SELECT DISTINCT attempt FROM jobs WHERE task = 'rmw'") == ["1"])
        let conflicts = p.sqlInt("SELECT count(*) FROM runs WHERE outcome = 'conflict'")
        #expect(p.sqlInt("SELECT count(*) FROM runs WHERE outcome NOT IN ('succeeded', 'conflict')") == 0)
        #expect(logs.allSatisfy { !mentionsLockErrors($0) })
        // The job's runs name the outcome.
        if conflicts > 0 {
            let id = p.sqlInt("SELECT job_id FROM runs WHERE outcome = 'conflict' LIMIT 1")
            let job = try #require(try p.run(["job", "\(id)", "--json"]).json)
            let outcomes = (job["runs"]?.array ?? []).compactMap { $0["outcome"]?.stringValue }
            #expect(outcomes.last == "succeeded")
            #expect(outcomes.dropLast().allSatisfy { $0 == "conflict" })
        }
        print("five read-modify-write jobs: results \(results), \(conflicts) conflict runs")
    }

    func twoHundred(runners: Int) throws {
        let n = 200
        let p = try project(concurrency: 16)
        try seed(p, task: "rmw", n: n)
        try seed(p, task: "incr", n: n)
        let logs = try drain(p, tasks: ["rmw", "incr"], n: n, runners: runners)
        #expect(p.sql("SELECT value FROM kv WHERE task = 'rmw' AND key = 'n'") == ["\(n)"])
        #expect(p.sql("SELECT value FROM kv WHERE task = 'incr' AND key = 'n'") == ["\(n)"])
        let results = p.sql("SELECT result FROM jobs WHERE task = 'rmw'").compactMap { Int($0) }.sorted()
        #expect(results == Array(1...n), "each read-modify-write saw the one before it")
        #expect(p.sql("SELECT DISTINCT attempt FROM jobs WHERE task IN ('rmw', 'incr')") == ["1"])
        let conflicts = p.sql("SELECT j.task, count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE r.outcome = 'conflict' GROUP BY j.task")
        #expect(!conflicts.contains { $0.hasPrefix("incr|") }, "increments never conflict")
        let workers = p.sqlInt("SELECT count(DISTINCT worker) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'rmw'")
        #expect(workers == runners)
        #expect(logs.allSatisfy { !mentionsLockErrors($0) })
        print("\(n) increments on \(runners) runner(s): rmw n = \(n), incr n = \(n), conflict runs per task \(conflicts), rmw workers \(workers)")
    }

    @Test func twoHundredIncrementsOnOneRunner() throws { try twoHundred(runners: 1) }

    @Test func twoHundredIncrementsOnTwoRunners() throws { try twoHundred(runners: 2) }
}
