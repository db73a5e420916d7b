import CrescentCore
import Foundation
import Testing

/// Queues and priorities against the real binary (SPEC §1 `[[queues]]`, `run --queues`, §2 `priority`).
@Suite(.serialized) struct OperationsQueueTests {
    /// A handler that numbers its runs in order: the store write commits with the attempt's
    /// success, and with one slot the next job starts only after that commit.
    static let counter = """
        return {
          handler = function(job)
            local n = (store.get("n") or 0) + 1
            store.set("n", n)
            return n
          end,
        }
        """

    @Test func priorityOrdersJobsWithinAQueue() throws {
        let project = try Project(config: """
            database = "jobs.db"
            [workers]
            threads = 1
            [[queues]]
            name = "default"
            concurrency = 1
            [log]
            level = "warn"
            """, tasks: ["count.lua": Self.counter])
        var ids: [Int64: Int] = [:]
        for p in [0, 5, -3, 10, 1, 5] {
            ids[try project.opsEnqueue("count", ["--priority=\(p)"])] = p
        }
        let run = try project.run(["run", "--limit", "\(ids.count)"])
        #expect(run.code == 0, "\(run.stderr)")

        var rows: [(id: Int64, priority: Int, seq: Int64, started: String)] = []
        for (id, p) in ids {
            let job = try #require(try project.opsJob(id))
            #expect(job["state"] == .string("succeeded"))
            #expect(job["priority"]?.intValue == Int64(p))
            let started = try #require(job["runs"]?.array.first?["started_at"]?.stringValue)
            rows.append((id, p, job["result"]?.intValue ?? -1, started))
        }
        rows.sort { $0.seq < $1.seq }
        #expect(rows.map(\.seq) == Array(1...Int64(ids.count)))
        // Higher priority first; equal priorities in enqueue order.
        let expected = ids.keys.sorted { a, b in ids[a]! != ids[b]! ? ids[a]! > ids[b]! : a < b }
        #expect(rows.map(\.id) == expected)
        // Start times follow the same order (ISO 8601 UTC with ms sorts as text).
        #expect(rows.map(\.started) == rows.map(\.started).sorted())
    }

    static let twoQueues = """
        database = "jobs.db"
        [workers]
        threads = 1
        [[queues]]
        name = "critical"
        concurrency = 5
        [[queues]]
        name = "default"
        concurrency = 5
        [log]
        level = "warn"
        """

    /// With one run left to start, the earlier queue is served first; `--queues` reverses that.
    @Test func queueOrderIsFetchPriority() throws {
        let project = try Project(config: Self.twoQueues, tasks: ["ok.lua": "return { handler = function(job) return job.queue end }\n"])
        let low = try project.opsEnqueue("ok")                                // default, enqueued first
        let high = try project.opsEnqueue("ok", ["--queue", "critical"])
        let r1 = try project.run(["run", "--limit", "1"])
        #expect(r1.code == 0, "\(r1.stderr)")
        #expect(try project.opsState(high) == "succeeded")
        #expect(try project.opsState(low) == "queued")

        let low2 = try project.opsEnqueue("ok")
        let high2 = try project.opsEnqueue("ok", ["--queue", "critical"])
        let r2 = try project.run(["run", "--queues", "default,critical", "--limit", "1"])
        #expect(r2.code == 0, "\(r2.stderr)")
        #expect(try project.opsState(low) == "succeeded", "default is first in --queues")
        #expect(try project.opsState(low2) == "queued")
        #expect(try project.opsState(high2) == "queued")
    }

    /// `run --queues a` leaves other queues' jobs queued, however long it runs.
    @Test func restrictedProcessLeavesOtherQueuesAlone() throws {
        let project = try Project(config: Self.twoQueues, tasks: [
            "ok.lua": "return { handler = function(job) return job.queue end }\n",
            "bulk.lua": "return { queue = 'bulk', handler = function(job) return job.queue end }\n",
        ])
        let other = try project.opsEnqueue("ok")                  // default
        let bulk = try project.opsEnqueue("bulk")                 // undeclared queue named by a task
        let first = try project.opsEnqueue("ok", ["--queue", "critical"])
        let runner = try OpsRunner(project, ["--queues", "critical"])
        #expect(try project.opsWaitFor(first, "succeeded") != nil)
        // A job enqueued after the other queues' jobs runs too; theirs still wait.
        let second = try project.opsEnqueue("ok", ["--queue", "critical"])
        #expect(try project.opsWaitFor(second, "succeeded") != nil)
        #expect(try project.opsState(other) == "queued")
        #expect(try project.opsState(bulk) == "queued")
        let status = try #require(try project.run(["status", "--json"]).json)
        #expect(status["processes"]?.array.first?["queues"] == .array([.string("critical")]))
        #expect(status["queues"]?["default"]?["queued"] == .int(1))
        #expect(status["queues"]?["bulk"]?["queued"] == .int(1))
        #expect(status["queues"]?["critical"]?["succeeded"] == .int(2))

        #expect(try project.run(["stop"]).code == 0)
        #expect(runner.waitForExit() == 0, "\(runner.stderr)")

        // An unrestricted process serves them all, the task-named `bulk` queue included.
        let all = try project.run(["run", "--limit", "2"])
        #expect(all.code == 0, "\(all.stderr)")
        #expect(try project.opsState(other) == "succeeded")
        #expect(try project.opsState(bulk) == "succeeded")
        #expect(try project.opsJob(bulk)?["queue"] == .string("bulk"))
    }

    /// A queue's concurrency caps its jobs in flight in one process.
    @Test func concurrencyCapsJobsInFlight() throws {
        let project = try Project(config: """
            database = "jobs.db"
            [workers]
            threads = 2
            [[queues]]
            name = "slow"
            concurrency = 2
            [log]
            level = "warn"
            """, tasks: ["nap.lua": "return { queue = 'slow', handler = function(job) sleep('700ms'); return true end }\n"])
        let ids = try (0..<5).map { _ in try project.opsEnqueue("nap") }
        let runner = try OpsRunner(project)
        var most = 0
        let done = try opsEventually(40) { () -> Bool? in
            let running = try project.run(["jobs", "--state", "running", "--json"]).jsonLines.count
            most = max(most, running)
            let finished = try project.run(["jobs", "--state", "succeeded", "--json"]).jsonLines.count
            return finished == ids.count ? true : nil
        }
        #expect(done == true)
        #expect(most <= 2, "at most 2 in flight, saw \(most)")
        #expect(most >= 1)
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)
    }

    /// A job enqueued by hand into a queue no config or task names still runs on an unrestricted process.
    @Test func adHocQueueRuns() throws {
        let project = try Project(config: Self.twoQueues, tasks: ["ok.lua": "return { handler = function(job) return job.queue end }\n"])
        let id = try project.opsEnqueue("ok", ["--queue", "adhoc"])
        let runner = try OpsRunner(project)
        let job = try project.opsWaitFor(id, "succeeded")
        #expect(job?["result"] == .string("adhoc"))
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)
    }
}
