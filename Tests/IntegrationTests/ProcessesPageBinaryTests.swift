import CrescentCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The processes page as Faktory's busy page shows it (issue 15 item 7), on the real binary:
/// each process's Crescent version, resident memory and capacity beside busy in `status`,
/// `/api/stats` and the dashboard; a `kill -9`ed process listed as lost with the jobs another
/// process rescued from it, refused as a quiet/stop target, and gone after its hour.
@Suite(.serialized) struct ProcessesPageBinaryTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 2
        lease = "1s"
        shutdown_timeout = "1s"
        [[queues]]
        name = "default"
        concurrency = 4
        [[queues]]
        name = "bulk"
        concurrency = 3
        [log]
        format = "json"
        level = "info"
        """

    static let tasks = [
        "nap.lua": "return { retry = { attempts = 5, delay = '1h' }, handler = function(job) sleep(job.args.secs or '60s'); return 'woke' end }\n",
    ]

    func get(_ base: String, _ path: String) -> (Int, String) {
        let r = FuzzBinaryTests.request(URL(string: base + path)!, method: "GET", body: nil)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    func post(_ base: String, _ path: String) -> (Int, String) {
        let r = FuzzBinaryTests.request(URL(string: base + path)!, method: "POST", body: Data())
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    /// `status --json`'s process `id`, once `ready` holds for it.
    func process(_ project: Project, _ id: String? = nil, timeout: Double = 20,
                 _ ready: (JSONValue) -> Bool = { _ in true }) throws -> JSONValue? {
        try opsEventually(timeout) { () -> JSONValue? in
            let procs = try project.run(["status", "--json"]).json?["processes"]?.array ?? []
            return procs.first { p in (id == nil || p["id"]?.stringValue == id) && ready(p) }
        }
    }

    @Test func aRunningProcessShowsItsVersionMemoryAndCapacityBesideBusy() throws {
        let port = FuzzBinaryTests.freePort()
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let ids = try (0..<2).map { _ in try project.opsEnqueue("nap") }
        let runner = try OpsRunner(project, ["--http-listen", "127.0.0.1:\(port)"])
        for id in ids { #expect(try project.opsWaitFor(id, "running") != nil, "\(runner.stderr.suffix(800))") }
        let p = try #require(try process(project) { $0["busy"] == .int(2) }, "\(runner.stderr.suffix(800))")
        // Its queues' concurrency summed: default 4 + bulk 3.
        #expect(p["capacity"] == .int(7))
        #expect(p["version"] == .string(CrescentVersion.current))
        let rss = try #require(p["rss_bytes"]?.intValue, "\(p)")
        #expect(rss > 1_000_000 && rss < 100_000_000_000, "a plausible resident size: \(rss)")
        #expect(p["lost"] == .bool(false) && p["lost_at"] == .null && p["rescued_count"] == .int(0))

        let text = try project.run(["status"]).stdout
        #expect(text.contains("busy 2 / 7"), "\(text)")
        #expect(text.contains("crescent \(CrescentVersion.current)"), "\(text)")
        #expect(text.range(of: #"rss \d+\.\d (kB|MB|GB)"#, options: .regularExpression) != nil, "\(text)")

        let base = "http://127.0.0.1:\(port)"
        #expect(opsEventually { get(base, "/healthz").0 == 200 ? true : nil } == true)
        let api = try JSONValue.decode(get(base, "/api/stats").1)["processes"]?.array.first
        #expect(api?["capacity"] == .int(7) && api?["version"] == .string(CrescentVersion.current))
        #expect((api?["rss_bytes"]?.intValue ?? 0) > 1_000_000)
        let page = get(base, "/processes").1
        #expect(page.contains("<strong>2</strong> / 7"), "busy beside capacity")
        #expect(page.contains("<td>\(CrescentVersion.current)</td>"))
        #expect(page.range(of: #">\d+\.\d (kB|MB|GB)</span>"#, options: .regularExpression) != nil, "RSS as people read it")
        runner.signal(SIGTERM)
        #expect(runner.waitForExit(30) == 0)
    }

    /// `--max-jobs` caps the slots shown; `--queues` counts only the queues served. Two
    /// runners on one database, each with its own.
    @Test func maxJobsAndQueuesSetTheCapacityShown() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        #expect(try project.run(["retry", "--all-dead"]).code == 0)  // creates the database
        let capped = try OpsRunner(project, ["--max-jobs", "2", "--no-http"])
        let bulk = try OpsRunner(project, ["--queues", "bulk", "--no-http"])
        let ids = try OperatorControlTests.processIDs(project, count: 2)
        let cappedID = try #require(ids[capped.process.processIdentifier])
        let bulkID = try #require(ids[bulk.process.processIdentifier])
        #expect(try process(project, cappedID)?["capacity"] == .int(2))
        #expect(try process(project, bulkID)?["capacity"] == .int(3))
        let text = try project.run(["status"]).stdout
        #expect(text.contains("busy 0 / 2") && text.contains("busy 0 / 3"), "\(text)")
        for r in [capped, bulk] { r.signal(SIGTERM); #expect(r.waitForExit(30) == 0) }
    }

    @Test func aKilledRunnerIsListedLostWithTheJobsRescuedFromItThenGone() throws {
        let port = FuzzBinaryTests.freePort()
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let ids = try (0..<2).map { _ in try project.opsEnqueue("nap") }.sorted()
        let victim = try OpsRunner(project, ["--no-http"])
        for id in ids { #expect(try project.opsWaitFor(id, "running") != nil, "\(victim.stderr.suffix(800))") }
        let victimID = try #require(try process(project)?["id"]?.stringValue)
        victim.signal(SIGKILL)
        #expect(victim.waitForExit() != nil)

        let rescuer = try OpsRunner(project, ["--http-listen", "127.0.0.1:\(port)"])
        let lost = try #require(try process(project, victimID, timeout: 30) { $0["lost_at"] != .null },
                                "the rescuer marks it lost: \(rescuer.stderr.suffix(800))")
        #expect(lost["lost"] == .bool(true))
        #expect(lost["rescued_count"] == .int(2))
        #expect(lost["rescued_jobs"] == .array(ids.map { .int($0) }))
        #expect(lost["capacity"] == .int(7) && lost["version"] == .string(CrescentVersion.current), "what it was stays shown")
        for id in ids {
            let runs = try project.opsJob(id)?["runs"]?.array ?? []
            #expect(runs.first?["worker"] == .string(victimID) && runs.first?["error"] == .string("worker lost"))
        }
        let text = try project.run(["status"]).stdout
        #expect(text.contains("LOST at") && text.contains("2 running jobs rescued (\(ids.map(String.init).joined(separator: ",")))"), "\(text)")

        // Never a target, never counted alive.
        for action in ["stop", "quiet"] {
            let r = try project.run([action, "--process", victimID])
            #expect(r.code != 0 && r.stderr.contains("is lost"), "\(action): \(r.stdout) \(r.stderr)")
        }
        let base = "http://127.0.0.1:\(port)"
        #expect(opsEventually { get(base, "/healthz").0 == 200 ? true : nil } == true)
        let encoded = victimID.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? victimID
        let refused = post(base, "/api/processes/\(encoded)/stop")
        #expect(refused.0 == 404 && refused.1.contains("is lost"), "\(refused)")
        let page = get(base, "/processes").1
        #expect(page.contains("<h2>Lost</h2>"), "\(page)")
        for id in ids { #expect(page.contains("<a href=\"/jobs/\(id)\">\(id)</a>"), "the rescued jobs are linked") }
        let lostPart = page.range(of: "<h2>Lost</h2>").map { String(page[$0.lowerBound...]) } ?? ""
        #expect(lostPart.contains(victimID) && !lostPart.contains("<form"), "no buttons for a lost process")
        #expect(!page.contains("/processes/\(victimID)/stop\"") && !page.contains("/processes/\(encoded)/stop\""))
        let metrics = get(base, "/metrics").1
        #expect(metrics.contains("crescent_processes{state=\"lost\"} 1") && metrics.contains("crescent_processes{state=\"alive\"} 1"),
                "\(metrics.split(separator: "\n").filter { $0.contains("crescent_processes") })")

        // An hour later (its lost time moved back an hour) the Pruner takes the row.
        _ = project.sql("UPDATE processes SET lost_at = lost_at - 3700 WHERE id = '\(victimID)'")
        let shown = try project.run(["status", "--json"]).json?["processes"]?.array.compactMap { $0["id"]?.stringValue }
        #expect(shown?.contains(victimID) == false, "past its hour it is not shown, pruned yet or not")
        let gone = opsEventually(30) { () -> Bool? in
            project.sqlInt("SELECT count(*) FROM processes WHERE id = '\(victimID)'") == 0 ? true : nil
        }
        #expect(gone == true, "\(rescuer.stderr.suffix(800))")
        let left = try project.run(["status", "--json"]).json?["processes"]?.array.compactMap { $0["id"]?.stringValue }
        #expect(left?.contains(victimID) == false && left?.count == 1)
        let stop = try project.run(["stop"])
        #expect(stop.stdout.contains("1 running process "), "\(stop.stdout)")
        #expect(rescuer.waitForExit(30) == 0)
    }
}
