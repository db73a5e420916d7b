import CrescentCore
import Foundation
import Testing

/// `delete`, `retry --state`, `run-now` and `jobs --search` against the real binary (issue 15).
@Suite(.serialized) struct BulkActionsTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 2
        [log]
        level = "warn"
        """

    static let tasks = [
        "boom.lua": "return { retry = { attempts = 1 }, handler = function(job) error(\"boom \" .. job.args.tag) end }\n",
        "flaky.lua": "return { retry = { attempts = 3, backoff = \"fixed\", delay = \"1h\" }, handler = function(job) error(\"flaky\") end }\n",
        "ok.lua": "return { handler = function(job) return job.args.tag end }\n",
    ]

    @Test func deleteRetryRunNowAndSearch() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let dead = try (0..<3).map { i in try project.opsEnqueue("boom", ["--args", "{\"tag\":\"Needle-\(i)\"}"]) }
        let deadOther = try project.opsEnqueue("boom", ["--args", "{\"tag\":\"x\"}", "--queue", "other"])
        let flaky = try project.opsEnqueue("flaky")
        let later = try project.opsEnqueue("ok", ["--args", "{\"tag\":\"later\"}", "--in", "1h"])
        let run = try project.run(["run", "--limit", "5"])
        #expect(run.code == 0, "\(run.stderr)")
        for id in dead + [deadOther] { #expect(try project.opsState(id) == "dead") }
        #expect(try project.opsState(flaky) == "retrying")
        #expect(try project.opsState(later) == "scheduled")

        // Search over args and errors, case-insensitive.
        let found = try project.run(["jobs", "--search", "needle-1", "--json"])
        #expect(found.jsonLines.compactMap { $0["id"]?.intValue } == [dead[1]], "\(found.stdout)")
        let byError = try project.run(["jobs", "--search", "BOOM X", "--json"])
        #expect(byError.jsonLines.compactMap { $0["id"]?.intValue } == [deadOther], "\(byError.stdout)")

        // run-now: due now, attempts kept; a job in another state is refused.
        let now = try project.run(["run-now", "\(flaky)", "\(later)", "\(dead[0])"])
        #expect(now.code == 1)
        #expect(now.stdout.contains("\(flaky) due now") && now.stdout.contains("\(later) due now"), "\(now.stdout)")
        #expect(now.stderr.contains("job \(dead[0]) is dead; only scheduled or retrying jobs can be run now"), "\(now.stderr)")
        let run2 = try project.run(["run", "--limit", "2"])
        #expect(run2.code == 0, "\(run2.stderr)")
        #expect(try project.opsJob(flaky)?["attempt"]?.intValue == 2, "the attempt count was kept and one more used")
        #expect(try project.opsState(later) == "succeeded")

        // retry by filter: only the dead jobs of that task and queue.
        let retry = try project.run(["retry", "--state", "dead", "--task", "boom", "--queue", "other"])
        #expect(retry.code == 0 && retry.stdout.contains("1 jobs queued again"), "\(retry.stdout) \(retry.stderr)")
        #expect(try project.opsState(deadOther) == "queued")
        let badRetry = try project.run(["retry", "--state", "queued"])
        #expect(badRetry.code == 2 && badRetry.stderr.contains("only dead, cancelled or expired"), "\(badRetry.stderr)")

        // delete: by id (running refused), by state with a task filter.
        let one = try project.run(["delete", "\(dead[2])", "999999"])
        #expect(one.code == 1 && one.stdout.contains("\(dead[2]) deleted") && one.stderr.contains("no job with id 999999"), "\(one.stdout) \(one.stderr)")
        #expect(try project.opsJob(dead[2]) == nil)
        let running = try project.run(["delete", "--state", "running"])
        #expect(running.code == 2 && running.stderr.contains("running jobs cannot be deleted"), "\(running.stderr)")
        let all = try project.run(["delete", "--state", "dead", "--task", "boom"])
        #expect(all.code == 0 && all.stdout.contains("2 dead jobs deleted"), "\(all.stdout) \(all.stderr)")
        for id in dead { #expect(try project.opsJob(id) == nil) }
        #expect(try project.opsState(deadOther) == "queued", "other states are left alone")
        print("bulk: search found 1+1, run-now moved 2, retry --state moved 1, delete removed 1 by id and 2 by state")
    }

    @Test func deletingARunningJobIsRefused() throws {
        let project = try Project(config: Self.config, tasks: ["slow.lua": "return { handler = function(job) sleep(\"3s\") end }\n"])
        let runner = try OpsRunner(project)
        let id = try project.opsEnqueue("slow")
        #expect(try project.opsWaitFor(id, "running") != nil)
        let r = try project.run(["delete", "\(id)"])
        #expect(r.code == 1 && r.stderr.contains("job \(id) is running and cannot be deleted"), "\(r.stderr)")
        #expect(try project.opsState(id) == "running")
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)
    }
}
