import CrescentCore
import Foundation
import Testing

/// Graceful shutdown (SPEC §1) and `crescent stop` (§5) against the real binary.
@Suite(.serialized) struct OperationsShutdownTests {
    static func config(shutdownTimeout: String) -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 1
        shutdown_timeout = "\(shutdownTimeout)"
        [log]
        format = "json"
        level = "info"
        """
    }

    /// A runner on a fresh project whose one job (`task` with `args`) is running, then sent SIGTERM.
    static func signalledWhileRunning(shutdownTimeout: String, tasks: [String: String] = ["nap.lua": nap],
                                      task: String = "nap", args: String? = nil) throws -> (Project, Int64, OpsRunner) {
        let project = try Project(config: config(shutdownTimeout: shutdownTimeout), tasks: tasks)
        let id = try project.opsEnqueue(task, args.map { ["--args", $0] } ?? [])
        let runner = try OpsRunner(project)
        #expect(try project.opsWaitFor(id, "running") != nil)
        runner.signal(SIGTERM)
        return (project, id, runner)
    }

    static let nap = """
        return {
          handler = function(job)
            sleep(job.args.secs)
            return "slept " .. job.args.secs
          end,
        }
        """

    /// First SIGTERM: no new jobs; the running one finishes; exit 0.
    @Test func sigtermWaitsForTheRunningJob() throws {
        let (project, id, runner) = try Self.signalledWhileRunning(shutdownTimeout: "30s", args: #"{"secs": "2s"}"#)
        #expect(opsEventually(10) { runner.stderr.contains("stopping") ? true : nil } == true, "\(runner.stderr)")
        let later = try project.opsEnqueue("nap", ["--args", #"{"secs": "10ms"}"#])
        #expect(runner.waitForExit(30) == 0, "\(runner.stderr)")
        let job = try #require(try project.opsJob(id))
        #expect(job["state"] == .string("succeeded"))
        #expect(job["result"] == .string("slept 2s"))
        #expect(job["runs"]?.array.map { $0["outcome"] } == [.string("succeeded")])
        #expect(try project.opsState(later) == "queued", "no new jobs after the signal")
        #expect(try project.run(["status", "--json"]).json?["processes"]?.array.isEmpty == true, "the process deregistered")
    }

    /// Jobs still running at `shutdown_timeout` go back to the queue with a `released` run, and run again later.
    @Test func shutdownTimeoutReleasesRunningJobs() throws {
        let (project, id, runner) = try Self.signalledWhileRunning(shutdownTimeout: "1s", args: #"{"secs": "5s"}"#)
        #expect(runner.waitForExit(30) == 0, "\(runner.stderr)")
        let job = try #require(try project.opsJob(id))
        #expect(job["state"] == .string("queued"))
        let runs = job["runs"]?.array ?? []
        #expect(runs.map { $0["outcome"] } == [.string("released")])
        #expect(runs.first?["finished_at"] != .null)
        let logs = runner.jsonLogLines
        #expect(logs.contains { $0["msg"]?.stringValue?.contains("released") == true }, "\(runner.stderr)")
        #expect(!logs.contains { $0["level"] == .string("warn") || $0["level"] == .string("error") }, "a clean release: \(runner.stderr)")

        // Released work runs again on the next start, to success.
        let again = try project.run(["run", "--limit", "1"])
        #expect(again.code == 0, "\(again.stderr)")
        let done = try #require(try project.opsJob(id))
        #expect(done["state"] == .string("succeeded"))
        #expect(done["runs"]?.array.map { $0["outcome"] } == [.string("released"), .string("succeeded")])
    }

    /// A handler stuck in a pure Lua loop is released at the timeout too, and the process still exits 0.
    @Test func shutdownReleasesABusyLoop() throws {
        let (project, id, runner) = try Self.signalledWhileRunning(shutdownTimeout: "500ms", tasks: [
            "spin.lua": "return { handler = function(job) local n = 0; while true do n = n + 1 end end }\n",
        ], task: "spin")
        #expect(runner.waitForExit(30) == 0, "\(runner.stderr)")
        let job = try #require(try project.opsJob(id))
        #expect(job["state"] == .string("queued"))
        #expect(job["runs"]?.array.map { $0["outcome"] } == [.string("released")])
    }

    /// A second signal exits at once, without waiting for (or releasing) the running job.
    @Test func secondSignalExitsAtOnce() throws {
        let (project, id, runner) = try Self.signalledWhileRunning(shutdownTimeout: "60s", args: #"{"secs": "60s"}"#)
        #expect(opsEventually(10) { runner.stderr.contains("stopping") ? true : nil } == true, "\(runner.stderr)")
        runner.signal(SIGINT)
        #expect(runner.waitForExit(20) != nil, "the second signal ends the process")
        // It left without finishing or releasing: the job waits for its lease to expire.
        #expect(try project.opsState(id) == "running")
    }

    /// `crescent stop` reaches every run process on the database; each stops gracefully with exit 0.
    @Test func stopStopsEveryProcess() throws {
        let project = try Project(config: Self.config(shutdownTimeout: "30s"), tasks: ["nap.lua": Self.nap])
        let id = try project.opsEnqueue("nap", ["--args", #"{"secs": "1s"}"#])
        let a = try OpsRunner(project)
        let b = try OpsRunner(project)
        let both = try opsEventually(20) { () -> Bool? in
            try project.run(["status", "--json"]).json?["processes"]?.array.count == 2 ? true : nil
        }
        #expect(both == true)
        #expect(try project.opsWaitFor(id, "running") != nil)
        let stop = try project.run(["stop"])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(stop.stdout.contains("2 running processes"), "\(stop.stdout)")
        #expect(a.waitForExit(30) == 0, "\(a.stderr)")
        #expect(b.waitForExit(30) == 0, "\(b.stderr)")
        #expect(try project.opsState(id) == "succeeded", "the running job finished first")
        for runner in [a, b] {
            #expect(runner.jsonLogLines.contains { $0["msg"] == .string("stop requested by crescent stop") }, "\(runner.stderr)")
        }
        #expect(try project.run(["status", "--json"]).json?["processes"]?.array.isEmpty == true)

        // A stop request is not sticky: a process started afterwards keeps running.
        let c = try OpsRunner(project)
        let later = try project.opsEnqueue("nap", ["--args", #"{"secs": "10ms"}"#])
        #expect(try project.opsWaitFor(later, "succeeded") != nil)
        #expect(c.process.isRunning)
        c.signal(SIGINT)
        #expect(c.waitForExit(30) == 0, "SIGINT stops gracefully too")
    }
}
