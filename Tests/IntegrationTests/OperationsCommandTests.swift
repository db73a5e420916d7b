import CrescentCore
import Foundation
import Testing

/// `status`, `retry`, `cancel` (SPEC §5) against the real binary.
@Suite(.serialized) struct OperationsCommandTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 2
        [[queues]]
        name = "critical"
        concurrency = 5
        [[queues]]
        name = "default"
        concurrency = 5
        [log]
        format = "json"
        level = "warn"
        """

    static let tasks = [
        "nap.lua": "return { handler = function(job) sleep(job.args.secs or '30s'); return 'woke' end }\n",
        "boom.lua": "return { retry = { attempts = 1 }, handler = function(job) if job.args.ok then return 'fine' end; error('boom') end }\n",
        "ok.lua": "return { handler = function(job) return job.args end }\n",
        "spin.lua": "return { handler = function(job) local n = 0; while true do n = n + 1 end end }\n",
        "slowretry.lua": "return { retry = { attempts = 3, delay = '1h' }, handler = function(job) error('later') end }\n",
        "hourly.lua": "return { schedule = '@hourly', handler = function(job) return 1 end }\n",
    ]

    @Test func retryDeadAndCancelledJobs() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let dead1 = try project.opsEnqueue("boom")
        let dead2 = try project.opsEnqueue("boom")
        let ok = try project.opsEnqueue("ok")
        let run = try project.run(["run", "--limit", "3"])
        #expect(run.code == 0, "\(run.stderr)")
        #expect(try project.opsState(dead1) == "dead")
        #expect(try project.opsState(dead2) == "dead")

        // One by id: queued now, attempts reset, its history kept.
        let r = try project.run(["retry", "\(dead1)"])
        #expect(r.code == 0, "\(r.stderr)")
        let job = try #require(try project.opsJob(dead1))
        #expect(job["state"] == .string("queued"))
        #expect(job["attempt"] == .int(0))
        #expect(job["runs"]?.array.count == 1)
        // A succeeded or unknown job cannot be retried: exit 1 with a sentence on stderr.
        let bad = try project.run(["retry", "\(ok)"])
        #expect(bad.code == 1)
        #expect(bad.stderr.contains("succeeded"), "\(bad.stderr)")
        let unknown = try project.run(["retry", "999999"])
        #expect(unknown.code == 1)
        #expect(unknown.stderr.contains("999999"), "\(unknown.stderr)")
        #expect(try project.run(["retry"]).code == 2, "no ids and no --all-dead is a usage error")

        // --all-dead takes the rest.
        let all = try project.run(["retry", "--all-dead"])
        #expect(all.code == 0, "\(all.stderr)")
        #expect(all.stdout.contains("1"), "\(all.stdout)")
        #expect(try project.opsState(dead2) == "queued")

        // A cancelled job can be retried too.
        let cancelled = try project.opsEnqueue("ok")
        #expect(try project.run(["cancel", "\(cancelled)"]).code == 0)
        #expect(try project.opsState(cancelled) == "cancelled")
        #expect(try project.run(["retry", "\(cancelled)"]).code == 0)
        #expect(try project.opsState(cancelled) == "queued")

        let again = try project.run(["run", "--limit", "3"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(try project.opsState(cancelled) == "succeeded")
        let retried = try #require(try project.opsJob(dead1))
        #expect(retried["state"] == .string("dead"), "it fails again, one attempt")
        #expect(retried["attempt"] == .int(1))
        #expect(retried["runs"]?.array.count == 2)
    }

    @Test func cancelQueuedScheduledAndRunningJobs() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let queued = try project.opsEnqueue("ok")
        let later = try project.opsEnqueue("ok", ["--in", "1h"])
        #expect(try project.opsState(later) == "scheduled")
        let c = try project.run(["cancel", "\(queued)", "\(later)"])
        #expect(c.code == 0, "\(c.stderr)")
        #expect(try project.opsState(queued) == "cancelled")
        #expect(try project.opsState(later) == "cancelled")
        #expect(try project.opsJob(queued)?["finished_at"] != .null)
        // A job waiting for its next attempt is cancelled at once too.
        let waiting = try project.opsEnqueue("slowretry")
        #expect(try project.run(["run", "--limit", "1"]).code == 0)
        #expect(try project.opsState(waiting) == "retrying")
        #expect(try project.run(["cancel", "\(waiting)"]).code == 0)
        #expect(try project.opsState(waiting) == "cancelled")

        let twice = try project.run(["cancel", "\(queued)"])
        #expect(twice.code == 1, "a cancelled job cannot be cancelled again")
        #expect(twice.stderr.contains("cancelled"), "\(twice.stderr)")
        #expect(try project.run(["cancel", "424242"]).code == 1)

        // A running job is aborted: run outcome `aborted` with error "cancelled", job `cancelled`.
        let long = try project.opsEnqueue("nap", ["--args", #"{"secs": "60s"}"#])
        let runner = try OpsRunner(project)
        #expect(try project.opsWaitFor(long, "running") != nil)
        let cr = try project.run(["cancel", "\(long)"])
        #expect(cr.code == 0, "\(cr.stderr)")
        let job = try project.opsWaitFor(long, "cancelled", timeout: 20)
        #expect(job != nil, "\(runner.stderr)")
        let runs = job?["runs"]?.array ?? []
        #expect(runs.count == 1)
        #expect(runs.first?["outcome"] == .string("aborted"))
        #expect(runs.first?["error"]?.stringValue?.contains("cancelled") == true, "\(runs)")
        #expect(job?["finished_at"] != .null)

        // A handler in a pure Lua loop is aborted too.
        let spin = try project.opsEnqueue("spin")
        #expect(try project.opsWaitFor(spin, "running") != nil)
        #expect(try project.run(["cancel", "\(spin)"]).code == 0)
        let spun = try project.opsWaitFor(spin, "cancelled", timeout: 20)
        #expect(spun?["runs"]?.array.first?["outcome"] == .string("aborted"), "\(runner.stderr)")

        // The runner goes on with other work.
        let next = try project.opsEnqueue("ok", ["--args", #"{"n": 1}"#])
        #expect(try project.opsWaitFor(next, "succeeded") != nil)
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0, "\(runner.stderr)")
        #expect(try project.opsState(long) == "cancelled", "nothing re-queues it at shutdown")
    }

    /// A process killed with -9 stops heart-beating: `status` marks it lost once its lease has passed.
    @Test func statusMarksALostProcess() throws {
        let project = try Project(config: Self.config.replacingOccurrences(of: "threads = 2", with: "threads = 1\nlease = \"1s\""), tasks: Self.tasks)
        let runner = try OpsRunner(project)
        let seen = try opsEventually(20) { () -> JSONValue? in
            try project.run(["status", "--json"]).json?["processes"]?.array.first
        }
        #expect(seen?["lost"] == .bool(false))
        runner.signal(SIGKILL)
        #expect(runner.waitForExit() != nil)
        let lost = try opsEventually(20) { () -> JSONValue? in
            let p = try project.run(["status", "--json"]).json?["processes"]?.array.first
            return p?["lost"] == .bool(true) ? p : nil
        }
        #expect((lost?["heartbeat_age_s"]?.doubleValue ?? 0) > 1, "\(String(describing: lost))")
        let text = try project.run(["status"])
        #expect(text.stdout.contains("LOST: no heartbeat for"), "\(text.stdout)")
    }

    /// Cancelling a job whose process died mid-run: the next process's rescue ends it `cancelled`, not re-run.
    @Test func cancelAJobOfALostProcess() throws {
        let project = try Project(config: Self.config.replacingOccurrences(of: "threads = 2", with: "threads = 1\nlease = \"1s\""), tasks: Self.tasks)
        let id = try project.opsEnqueue("nap", ["--args", #"{"secs": "60s"}"#])
        let first = try OpsRunner(project)
        #expect(try project.opsWaitFor(id, "running") != nil)
        first.signal(SIGKILL)
        #expect(first.waitForExit() != nil)
        let c = try project.run(["cancel", "\(id)"])
        #expect(c.code == 0, "\(c.stderr)")
        #expect(try project.opsState(id) == "running", "still running until its lease is found expired")
        let second = try OpsRunner(project)
        let job = try project.opsWaitFor(id, "cancelled", timeout: 30)
        #expect(job != nil, "\(second.stderr)")
        #expect(job?["runs"]?.array.map { $0["outcome"] } == [.string("aborted")])
        #expect(job?["runs"]?.array.first?["error"] == .string("worker lost"))
        second.signal(SIGTERM)
        #expect(second.waitForExit() == 0)
    }

    @Test func statusOnABusyRunner() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        #expect(try project.run(["retry", "--all-dead"]).code == 0)  // creates the database (status does not)
        let idle = try project.run(["status", "--json"])
        #expect(idle.code == 0, "\(idle.stderr)")
        #expect(idle.json?["processes"]?.array.isEmpty == true)
        #expect(idle.json?["oldest_queued_age_s"] == .null)

        // One quick success and one failure first, so the windows have something.
        let fine = try project.opsEnqueue("boom", ["--args", #"{"ok": true}"#])
        let failed = try project.opsEnqueue("boom")
        #expect(try project.run(["run", "--limit", "2"]).code == 0)
        #expect(try project.opsState(fine) == "succeeded")
        #expect(try project.opsState(failed) == "dead")

        let naps = try (0..<3).map { _ in try project.opsEnqueue("nap", ["--args", #"{"secs": "60s"}"#, "--queue", "critical"]) }
        let waiting = try (0..<7).map { _ in try project.opsEnqueue("nap", ["--args", #"{"secs": "60s"}"#]) }
        _ = try project.opsEnqueue("ok", ["--in", "1h"])
        let runner = try OpsRunner(project, ["--queues", "critical", "-v"])
        for id in naps { #expect(try project.opsWaitFor(id, "running") != nil) }
        let busy = try opsEventually(20) { () -> JSONValue? in
            let doc = try project.run(["status", "--json"]).json
            return doc?["processes"]?.array.first?["busy"] == .int(3) ? doc : nil
        }
        let doc = try #require(busy, "heartbeat reports 3 busy")
        #expect(doc["queues"]?["critical"]?["running"] == .int(3))
        #expect(doc["queues"]?["default"]?["queued"] == .int(7))
        #expect(doc["queues"]?["default"]?["scheduled"] == .int(1))
        #expect(doc["queues"]?["default"]?["succeeded"] == .int(1))
        #expect(doc["queues"]?["default"]?["dead"] == .int(1))
        let process = doc["processes"]?.array.first
        #expect(process?["pid"]?.intValue == Int64(runner.process.processIdentifier))
        #expect(process?["queues"] == .array([.string("critical")]))
        #expect(process?["host"]?.stringValue == ProcessInfo.processInfo.hostName)
        let store = try #require(doc["store"]?.stringValue)
        #expect(store.hasPrefix("sqlite /") || store.hasPrefix("postgres postgres"), "\(store)")
        if let scheme = store.range(of: "://"), let at = store[scheme.upperBound...].firstIndex(of: "@") {
            let userinfo = store[scheme.upperBound..<at]
            #expect(!userinfo.contains(":") || userinfo.hasSuffix(":***"), "never the password: \(store)")
        }
        let beat = try #require(process?["heartbeat_at"]?.stringValue.flatMap { try? TimeText.parse($0) })
        #expect(abs(beat.timeIntervalSinceNow) < 60)
        #expect(doc["finished"]?["last_minute"]?["succeeded"] == .int(1))
        #expect(doc["finished"]?["last_minute"]?["failed"] == .int(1))
        #expect(doc["finished"]?["last_hour"]?["succeeded"] == .int(1))
        #expect(doc["finished"]?["last_hour"]?["failed"] == .int(1))
        #expect((doc["oldest_queued_age_s"]?.doubleValue ?? -1) >= 0)
        let fires = doc["next_fires"]?.array ?? []
        #expect(fires.first?["task"] == .string("hourly"))
        let at = try #require(fires.first?["at"]?.stringValue.flatMap { try? TimeText.parse($0) })
        #expect(at > Date() && at <= Date().addingTimeInterval(3601))

        let text = try project.run(["status"])
        #expect(text.code == 0, "\(text.stderr)")
        for needle in ["store: \(store)", "host \(ProcessInfo.processInfo.hostName)", "QUEUE", "critical", "default", "busy 3",
                       "queues critical", "next scheduled fires", "hourly", "oldest queued job"] {
            #expect(text.stdout.contains(needle), "status text lacks \(needle):\n\(text.stdout)")
        }
        print("crescent status on a busy runner:\n\(text.stdout)")
        _ = waiting
        runner.signal(SIGINT)
        #expect(opsEventually(10) { runner.stderr.contains("stopping") ? true : nil } == true, "\(runner.stderr)")
        runner.signal(SIGINT)
        #expect(runner.waitForExit() != nil, "a second signal exits at once")
    }
}
