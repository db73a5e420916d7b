import CrescentCore
import Foundation
import Testing

@Suite(.serialized) struct UniqueTTLExpiryTests {
    static let config = Project.quietConfig

    func enqueue(_ p: Project, _ task: String, _ args: String = "{}") throws -> (Int64, Bool) {
        let r = try p.run(["enqueue", task, "--args", args, "--json"])
        #expect(r.code == 0, "\(r.stderr)")
        return (r.json?["id"]?.intValue ?? -1, r.json?["duplicate"] == .bool(true))
    }

    @Test func uniqueInItsThreeForms() throws {
        let p = try Project(config: Self.config, tasks: [
            "one.lua": "return { unique = true, handler = function() end }",
            "perargs.lua": "return { unique = 'args', handler = function() end }",
            "custom.lua": """
                return {
                  unique = { by = function(args) return 'user-' .. args.user end, period = '1h' },
                  handler = function() end,
                }
                """,
        ])
        let (a, aDup) = try enqueue(p, "one", "{\"x\": 1}")
        let (b, bDup) = try enqueue(p, "one", "{\"x\": 2}")
        #expect(!aDup && bDup && a == b, "unique = true: one active job per task")

        let (c, _) = try enqueue(p, "perargs", "{\"x\": 1, \"y\": 2}")
        let (d, dDup) = try enqueue(p, "perargs", "{\"y\": 2, \"x\": 1}")
        let (e, eDup) = try enqueue(p, "perargs", "{\"x\": 3}")
        #expect(dDup && c == d, "same args in another key order is a duplicate")
        #expect(!eDup && e != c)

        let (f, _) = try enqueue(p, "custom", "{\"user\": 7, \"n\": 1}")
        let (g, gDup) = try enqueue(p, "custom", "{\"user\": 7, \"n\": 2}")
        #expect(gDup && f == g, "the key function decides")
        let job = try p.run(["job", "\(f)", "--json"]).json
        #expect(job?["unique_key"]?.stringValue?.contains("user-7") == true)

        // Run everything; afterwards `one` may be enqueued again, but `custom` is still
        // a duplicate within its period.
        #expect(try p.run(["run", "--limit", "4"]).code == 0)
        let (h, hDup) = try enqueue(p, "one")
        #expect(!hDup && h != a, "the key is freed when the job finishes")
        let (i, iDup) = try enqueue(p, "custom", "{\"user\": 7}")
        #expect(iDup && i == f, "period: no second job within 1h after the last finished")
    }

    @Test func ttlAbortsAPureLuaLoop() throws {
        let p = try Project(config: Self.config, tasks: [
            "spin.lua": """
                return {
                  ttl = "500ms",
                  retry = { attempts = 1 },
                  handler = function()
                    while true do pcall(function() while true do end end) end
                  end,
                }
                """,
            "quick.lua": "return { handler = function() return 'done' end }",
        ])
        let (spin, _) = try enqueue(p, "spin")
        let (quick, _) = try enqueue(p, "quick")
        let started = Date()
        let r = try p.run(["run", "--limit", "2"], timeout: 30)
        let elapsed = Date().timeIntervalSince(started)
        #expect(r.code == 0)
        let job = try #require(try p.run(["job", "\(spin)", "--json"]).json)
        #expect(job["state"] == .string("dead"))
        #expect(job["error"] == .string("ttl exceeded"))
        let run = job["runs"]?.array.first
        #expect(run?["outcome"] == .string("aborted"))
        if let s = run?["started_at"]?.stringValue, let f = run?["finished_at"]?.stringValue,
           let start = try? TimeText.parse(s), let end = try? TimeText.parse(f) {
            print("ttl abort: ttl 500 ms, attempt ended after \(Int(end.timeIntervalSince(start) * 1000)) ms")
        }
        #expect(try p.run(["job", "\(quick)", "--json"]).json?["state"] == .string("succeeded"))
        #expect(elapsed < 25)
    }

    @Test func expiredJobsAreNotRun() throws {
        let p = try Project(config: Self.config, tasks: [
            "late.lua": "return { expires = '1s', handler = function() return 'ran' end }",
        ])
        let (id, _) = try enqueue(p, "late")
        Thread.sleep(forTimeInterval: 1.3)
        let (fresh, _) = try enqueue(p, "late")
        #expect(try p.run(["run", "--limit", "1"]).code == 0)
        #expect(try p.run(["job", "\(id)", "--json"]).json?["state"] == .string("expired"))
        #expect(try p.run(["job", "\(fresh)", "--json"]).json?["state"] == .string("succeeded"))
    }
}

@Suite struct WaitingJobsTests {
    /// 200 jobs that each wait 300 ms, on two threads: they wait together, not in turn.
    @Test func twoHundredSleepersOnTwoThreads() throws {
        let p = try Project(config: """
            database = "jobs.db"
            [workers]
            threads = 2
            [[queues]]
            name = "default"
            concurrency = 500
            [log]
            level = "warn"
            """, tasks: [
                "nap.lua": "return { handler = function() sleep('300ms') return now() end }",
                "fan.lua": "return { handler = function() for i = 1, 200 do queue.push('nap', { i = i }) end end }",
            ])
        #expect(try p.run(["enqueue", "fan"]).code == 0)
        let started = Date()
        let run = try p.run(["run", "--limit", "201"], timeout: 60)
        let elapsed = Date().timeIntervalSince(started)
        #expect(run.code == 0)
        let done = try p.run(["jobs", "--state", "succeeded", "--limit", "1000", "--json"]).jsonLines.count
        #expect(done == 201)
        print("200 jobs × sleep 300 ms on 2 threads: drained in \(String(format: "%.2f", elapsed)) s (serially: 60 s)")
        #expect(elapsed < 20, "far less than 200 × 300 ms")
    }
}
