import CrescentCore
import Foundation
import Testing

/// Operator control against the real binary (issue 15): pausing a queue, quieting or stopping
/// one process, with two runner processes on one database (SQLite or PostgreSQL).
@Suite(.serialized) struct OperatorControlTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 2
        [[queues]]
        name = "default"
        concurrency = 5
        [[queues]]
        name = "bulk"
        concurrency = 5
        [log]
        format = "json"
        level = "info"
        """

    static let tasks = [
        "ok.lua": "return { handler = function(job) return job.queue end }\n",
        "slow.lua": "return { handler = function(job) sleep(\"1500ms\") return \"slept\" end }\n",
    ]

    /// The ids of the registered processes, waited for until there are `count`.
    static func processIDs(_ project: Project, count: Int) throws -> [Int32: String] {
        try #require(try opsEventually(20) { () -> [Int32: String]? in
            let procs = try project.run(["status", "--json"]).json?["processes"]?.array ?? []
            guard procs.count == count else { return nil }
            return Dictionary(uniqueKeysWithValues: procs.compactMap { p in
                p["pid"]?.intValue.flatMap { pid in p["id"]?.stringValue.map { (Int32(pid), $0) } }
            })
        }, "waiting for \(count) registered processes")
    }

    /// The worker (process id) of a job's last run.
    static func worker(_ project: Project, _ id: Int64) throws -> String? {
        try project.opsJob(id)?["runs"]?.array.last?["worker"]?.stringValue
    }

    static func stopLines(_ runner: OpsRunner) -> Int {
        runner.jsonLogLines.filter { $0["msg"]?.stringValue?.hasPrefix("stop requested") == true }.count
    }

    @Test func pauseHoldsAQueueForEveryProcessAndResumeReleasesIt() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let a = try OpsRunner(project), b = try OpsRunner(project)
        _ = try Self.processIDs(project, count: 2)

        let slow = try project.opsEnqueue("slow", ["--queue", "bulk"])
        try #require(try project.opsWaitFor(slow, "running") != nil)
        let pause = try project.run(["pause", "bulk"])
        #expect(pause.code == 0, "\(pause.stderr)")
        #expect(pause.stdout.contains("queue bulk paused"), "\(pause.stdout)")
        let again = try project.run(["pause", "bulk"])
        #expect(again.code == 0 && again.stdout.contains("already paused"), "\(again.stdout)")

        let held = try (0..<4).map { _ in try project.opsEnqueue("ok", ["--queue", "bulk"]) }
        // The running job finishes; the default queue goes on being served by both processes.
        #expect(try project.opsWaitFor(slow, "succeeded") != nil)
        let other = try (0..<6).map { _ in try project.opsEnqueue("ok") }
        for id in other { #expect(try project.opsWaitFor(id, "succeeded") != nil) }
        for id in held { #expect(try project.opsState(id) == "queued") }

        let status = try #require(try project.run(["status", "--json"]).json)
        #expect(status["paused_queues"] == .array([.string("bulk")]))
        let text = try project.run(["status"]).stdout
        #expect(text.contains("PAUSED") && text.split(separator: "\n").contains { $0.hasPrefix("bulk") && $0.hasSuffix("paused") }, "\(text)")

        let typo = try project.run(["pause", "bulkk"])
        #expect(typo.code == 2)
        #expect(typo.stderr.contains("no queue named \"bulkk\"") && typo.stderr.contains("bulk, default"), "\(typo.stderr)")

        let resume = try project.run(["resume", "bulk"])
        #expect(resume.code == 0 && resume.stdout.contains("queue bulk resumed"), "\(resume.stdout) \(resume.stderr)")
        for id in held { #expect(try project.opsWaitFor(id, "succeeded") != nil) }
        #expect(try project.run(["status", "--json"]).json?["paused_queues"] == .array([]))
        let workers = Set(try held.compactMap { try Self.worker(project, $0) } + other.compactMap { try Self.worker(project, $0) })
        print("pause: \(held.count) held jobs ran after resume, \(other.count) default jobs meanwhile, on \(workers.count) processes")

        #expect(try project.run(["stop"]).code == 0)
        #expect(a.waitForExit() == 0)
        #expect(b.waitForExit() == 0)
        // The stop request is logged once per process, not on every check.
        #expect(Self.stopLines(a) == 1, "\(a.stderr.suffix(800))")
        #expect(Self.stopLines(b) == 1, "\(b.stderr.suffix(800))")
    }

    @Test func quietAndStopOneProcess() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let a = try OpsRunner(project), b = try OpsRunner(project)
        let ids = try Self.processIDs(project, count: 2)
        let idA = try #require(ids[a.process.processIdentifier]), idB = try #require(ids[b.process.processIdentifier])

        // Quiet the process that runs the slow job: it finishes it and claims nothing more.
        let slow = try project.opsEnqueue("slow")
        let owner = try #require(try opsEventually { try project.opsState(slow) == "running" ? try Self.worker(project, slow) : nil })
        let (quieted, other) = owner == idA ? (a, b) : (b, a)
        let otherID = owner == idA ? idB : idA
        let quiet = try project.run(["quiet", "--process", owner])
        #expect(quiet.code == 0, "\(quiet.stderr)")
        #expect(try opsEventually {
            try project.run(["status", "--json"]).json?["processes"]?.array.first { $0["id"]?.stringValue == owner }?["quiet"] == .bool(true) ? true : nil
        } == true)
        #expect(try project.opsWaitFor(slow, "succeeded") != nil)
        let later = try (0..<8).map { _ in try project.opsEnqueue("ok") }
        for id in later {
            #expect(try project.opsWaitFor(id, "succeeded") != nil)
            #expect(try Self.worker(project, id) == otherID)
        }
        #expect(quieted.process.isRunning, "a quiet process keeps running")

        let unknown = try project.run(["stop", "--process", "no-such-process"])
        #expect(unknown.code == 1)
        #expect(unknown.stderr.contains("no running process with id \"no-such-process\"") && unknown.stderr.contains(otherID), "\(unknown.stderr)")

        let stop = try project.run(["stop", "--process", owner])
        #expect(stop.code == 0, "\(stop.stderr)")
        #expect(quieted.waitForExit() == 0)
        #expect(Self.stopLines(quieted) == 1, "\(quieted.stderr.suffix(800))")
        #expect(other.process.isRunning, "stopping one process leaves the other running")
        let after = try project.opsEnqueue("ok")
        #expect(try project.opsWaitFor(after, "succeeded") != nil)
        #expect(try project.run(["status", "--json"]).json?["processes"]?.array.count == 1)

        #expect(try project.run(["stop"]).code == 0)
        #expect(other.waitForExit() == 0)
        print("quiet/stop: \(later.count) jobs after quiet all ran on the other process; stop --process ended one of two")
    }
}
