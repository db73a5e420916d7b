import CrescentCore
import Foundation
import Testing

/// Per-task retention and expiry of waiting jobs (issue 15, item 6), and the tasks page's
/// "Run now" button (item 5).
@Suite(.serialized) struct TaskRetentionTests {
    /// `retention = { succeeded = "0s" }` removes a task's succeeded jobs (and their runs)
    /// at once, while another task's stay under `[retention]`; a failed job of the 0s task
    /// stays (its dead retention is the default).
    @Test func zeroRetentionRemovesSucceededJobsAtOnce() throws {
        let project = try Project(config: Project.quietConfig, tasks: [
            "gone.lua": "return { retention = { succeeded = \"0s\" }, retry = { attempts = 1 }, handler = function(job) if job.args.fail then error('no') end return 1 end }",
            "kept.lua": "return { handler = function(job) return 2 end }",
        ])
        for _ in 0..<5 { #expect(try project.run(["enqueue", "gone"]).code == 0) }
        #expect(try project.run(["enqueue", "gone", "--args", "{\"fail\": true}"]).code == 0)
        for _ in 0..<3 { #expect(try project.run(["enqueue", "kept"]).code == 0) }
        let runner = try Background(project, ["run"])
        let gone = waitFor(timeout: 30, every: 0.1) {
            project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'gone' AND state <> 'dead'") == 0
                && project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'kept' AND state = 'succeeded'") == 3
        }
        runner.interrupt()
        #expect(gone, "the succeeded jobs of gone were removed")
        let dead = project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'gone' AND state = 'dead'")
        let kept = project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'kept' AND state = 'succeeded'")
        let orphanRuns = project.sqlInt("SELECT count(*) FROM runs WHERE job_id NOT IN (SELECT id FROM jobs)")
        #expect(dead == 1 && kept == 3 && orphanRuns == 0)
        print("retention 0s: gone succeeded left 0 (of 5), dead kept \(dead), other task's succeeded kept \(kept), orphan runs \(orphanRuns)")
    }

    /// Jobs waiting behind a busy queue (one slot, held by a long job) become `expired` once
    /// past `expires`, while the slot is still busy: not only when they are claimed.
    @Test func waitingJobsExpireWhileTheQueueIsFull() throws {
        let project = try Project(config: """
            database = "jobs.db"
            [workers]
            threads = 1
            [[queues]]
            name = "default"
            concurrency = 1
            [log]
            format = "json"
            level = "warn"
            """, tasks: [
            "block.lua": "return { handler = function(job) local t = os.time() while os.time() - t < 25 do end return 1 end, ttl = \"60s\" }",
            "quick.lua": "return { expires = \"2s\", handler = function(job) return 1 end }",
        ])
        #expect(try project.run(["enqueue", "block"]).code == 0)
        let runner = try Background(project, ["run"])
        #expect(waitFor(timeout: 20, every: 0.1) { project.sqlInt("SELECT count(*) FROM jobs WHERE state = 'running'") == 1 })
        for _ in 0..<3 { #expect(try project.run(["enqueue", "quick"]).code == 0) }
        let enqueuedAt = Date()  // after the last enqueue
        let expired = waitFor(timeout: 12, every: 0.1) {
            project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'quick' AND state = 'expired'") == 3
        }
        let took = Date().timeIntervalSince(enqueuedAt)
        let stillBusy = project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'block' AND state = 'running'")
        runner.interrupt(timeout: 5)
        #expect(expired, "the waiting jobs expired")
        #expect(stillBusy == 1, "while the only slot was still busy")
        print(String(format: "expiry behind a full queue: 3 jobs expired %.1fs after the last enqueue (expires = 2s), the slot still busy", took))
    }

    /// The tasks page shows each schedule (last fired, next fire) with a "Run now" button: its
    /// POST enqueues one job with that schedule's args; without the CSRF token it is refused
    /// and nothing is enqueued.
    @Test func runNowButtonEnqueuesWithTheSchedulesArgs() throws {
        let port = FuzzBinaryTests.freePort()
        let project = try Project(config: Project.quietConfig + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: [
            "report.lua": """
                return {
                  schedules = { { cron = "0 0 1 1 *", args = { kind = "yearly" }, name = "yearly" }, { every = "30 days", args = { kind = "monthly" } } },
                  handler = function(job) return job.args.kind end,
                }
                """,
            "plain.lua": "return { handler = function(job) return 1 end }",
        ])
        let runner = try Background(project, ["run"])
        defer { runner.interrupt() }
        let base = "http://127.0.0.1:\(port)"
        #expect(waitFor(timeout: 60, every: 0.1) { FuzzBinaryTests.request(URL(string: base + "/healthz")!, method: "GET", body: nil).status == 200 })
        let page = String(decoding: FuzzBinaryTests.request(URL(string: base + "/tasks")!, method: "GET", body: nil).body, as: UTF8.self)
        #expect(page.contains("Run now") && page.contains("yearly") && page.contains("last fired"))
        let token = try #require(page.range(of: #"name="csrf" value="[^"]+""#, options: .regularExpression).map {
            String(page[$0].dropFirst(#"name="csrf" value=""#.count).dropLast())
        })
        func post(_ fields: String) -> Int {
            FuzzBinaryTests.request(URL(string: base + "/tasks/run")!, method: "POST", body: Data(fields.utf8),
                                    contentType: "application/x-www-form-urlencoded").status
        }
        #expect(post("task=report&schedule=yearly") == 403, "no CSRF token")
        #expect(post("csrf=\(token)&task=report&schedule=nope") == 404)
        #expect(post("csrf=\(token)&task=nope") == 404)
        #expect(project.sqlInt("SELECT count(*) FROM jobs") == 0, "refused posts enqueue nothing")
        #expect(post("csrf=\(token)&task=report&schedule=yearly&back=%2Ftasks") == 200)
        #expect(post("csrf=\(token)&task=report&schedule=2") == 200)
        #expect(post("csrf=\(token)&task=plain") == 200)
        #expect(waitFor(timeout: 20, every: 0.1) { project.sqlInt("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 3 })
        let results = project.sql("SELECT task, args, result FROM jobs ORDER BY id")
        #expect(results == [#"report|{"kind":"yearly"}|"yearly""#, #"report|{"kind":"monthly"}|"monthly""#, "plain|{}|1"], "\(results)")
        print("run now: \(results.joined(separator: ", "))")
    }
}
