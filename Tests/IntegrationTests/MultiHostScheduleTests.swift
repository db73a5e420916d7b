import CrescentCore
import Foundation
import Testing

// Schedules fired by every host, and two hosts on different versions of a task file.
extension MultiHostTests {
    static func everySecond(_ name: String, missed: String) -> String {
        """
        return {
          schedule = "every 1s",
          missed = "\(missed)",
          handler = function(job) return job.scheduled_for end,
        }
        """
    }

    /// Scheduled-for seconds of a task's jobs in [from, to), and whether they run without a gap.
    static func occurrences(_ mh: MultiHost, _ task: String, from: Double = 0, to: Double = 1e12) -> [Int] {
        mh.rows("SELECT scheduled_for::bigint FROM jobs WHERE task = '\(task)' AND scheduled_for >= \(from) AND scheduled_for < \(to) ORDER BY 1")
            .compactMap { Int($0) }
    }

    static func gaps(_ seconds: [Int]) -> Int {
        zip(seconds, seconds.dropFirst()).reduce(0) { $0 + ($1.1 - $1.0 - 1) }
    }

    /// Every host has the same every-second schedule: each occurrence is one job, none is lost
    /// while a host is cut off (and comes back), and after all hosts were down the `missed`
    /// policies hold: `all` fires every missed occurrence once, `once` only the latest, `skip`
    /// none more than 30 s late.
    @Test func schedulesAcrossHosts() throws {
        try withHosts(config: { Self.config($0) }, localConfig: Self.cliConfig,
                      tasks: { _ in ["tick.lua": Self.everySecond("tick", missed: "all")] }) { try schedules($0) }
    }

    func schedules(_ mh: MultiHost) throws {
        for i in 0..<3 { try mh.start(i) }
        #expect(waitFor(timeout: 60, every: 0.2) { mh.int("SELECT count(*) FROM processes") == 3 }, "three runners registered")
        #expect(waitFor(timeout: 30, every: 0.2) { Self.occurrences(mh, "tick").count >= 3 }, "the schedule fires")
        // One host cut off for three leases.
        mh.setLink(2, up: false)
        let cutAt = Date().timeIntervalSince1970
        Thread.sleep(forTimeInterval: 6)  // the situation under test: a partition longer than the lease
        mh.setLink(2, up: true)
        let healedAt = Date().timeIntervalSince1970
        #expect(waitFor(timeout: 60, every: 0.2) { mh.int("SELECT count(*) FROM processes WHERE lost_at IS NULL") == 3 }, "the host is back")
        #expect(waitFor(timeout: 30, every: 0.2) { (Self.occurrences(mh, "tick").last ?? 0) >= Int(healedAt) + 2 })
        let duringPartition = Self.occurrences(mh, "tick", from: cutAt.rounded(.up), to: healedAt.rounded(.down)).count
        let expectedDuring = Int(healedAt.rounded(.down) - cutAt.rounded(.up))

        // Every host down; three more tasks appear whose schedules last fired 60 s ago.
        let stops = mh.stopRunners()
        let t0 = Int(Date().timeIntervalSince1970) - 60
        for h in mh.hosts {
            for policy in ["all", "once", "skip"] { try h.project.write("tasks/m_\(policy).lua", Self.everySecond("m_\(policy)", missed: policy)) }
        }
        _ = mh.rows("INSERT INTO schedules (task, last_fired) VALUES ('m_all', \(t0)), ('m_once', \(t0)), ('m_skip', \(t0))")
        let downSeconds = 3.0
        Thread.sleep(forTimeInterval: downSeconds)  // the situation under test: every host down a while
        let restart = Date().timeIntervalSince1970
        for i in 0..<3 { try mh.start(i) }
        #expect(waitFor(timeout: 60, every: 0.2) {
            ["m_all", "m_once", "m_skip", "tick"].allSatisfy { (Self.occurrences(mh, $0).last ?? 0) >= Int(restart) + 3 }
        }, "every schedule fires again")
        // Every job fired so far runs (nothing is left behind by the restart).
        let ran = waitFor(timeout: 60, every: 0.2) {
            mh.int("SELECT count(*) FROM jobs WHERE state <> 'succeeded' AND scheduled_for <= \(Int(restart) + 3)") == 0
        }
        let stops2 = mh.stopRunners()

        let tick = Self.occurrences(mh, "tick")
        let all = Self.occurrences(mh, "m_all")
        let onceMissed = Self.occurrences(mh, "m_once", from: Double(t0 + 1), to: restart - 1)
        let onceAfter = Self.occurrences(mh, "m_once", from: restart - 1)
        let skipLate = Self.occurrences(mh, "m_skip", from: Double(t0 + 1), to: restart - 30)
        let skipRecent = Self.occurrences(mh, "m_skip", from: restart - 20, to: restart)
        let twice = mh.int("SELECT count(*) FROM (SELECT job_id FROM runs WHERE outcome = 'succeeded' GROUP BY job_id HAVING count(*) > 1) AS d")
        let jobsPerOccurrence = mh.int("SELECT COALESCE(max(c), 0) FROM (SELECT count(*) c FROM jobs GROUP BY task, scheduled_for) AS x")
        print("""
            multi-host schedules: 3 hosts, every 1s; tick: \(tick.count) occurrences, gaps \(Self.gaps(tick)), \
            \(duringPartition) of \(expectedDuring) fired while one host was cut off 6 s; jobs per occurrence at most \(jobsPerOccurrence); \
            committed twice \(twice); after all hosts were down (schedules last fired 60 s before): \
            all → \(all.filter { $0 <= Int(restart) }.count) jobs for the missed seconds (gaps \(Self.gaps(all)), first \(all.first.map { $0 - t0 } ?? -1) s after the last fire), \
            once → \(onceMissed.count) in the missed window before the latest (\(onceAfter.count) from then on, gaps \(Self.gaps(onceAfter))), \
            skip → \(skipLate.count) older than 30 s, \(skipRecent.count) of the last 20 s
            """)
        #expect(stops.allSatisfy { $0 == 0 } && stops2.allSatisfy { $0 == 0 })
        #expect(jobsPerOccurrence == 1, "each occurrence one job")
        #expect(twice == 0, "no occurrence committed twice")
        #expect(Self.gaps(tick) == 0, "no tick lost, across the partition and the full downtime (missed = all)")
        #expect(duringPartition == expectedDuring, "no occurrence lost while a host was cut off")
        #expect(all.first == t0 + 1 && Self.gaps(all) == 0, "missed = all: every missed occurrence, once")
        #expect(onceMissed.isEmpty && !onceAfter.isEmpty && Self.gaps(onceAfter) == 0, "missed = once: only the latest")
        #expect(skipLate.isEmpty, "missed = skip: nothing more than 30 s late")
        #expect(skipRecent.count == 20, "missed = skip: occurrences less than 30 s late still fire")
        #expect(ran, "every occurrence's job ran")
    }

    // MARK: version skew

    static func report(_ version: String, schedule: String) -> String {
        """
        return {
          schedule = "\(schedule)",
          retry = { attempts = 1 },
          handler = function(job) return "\(version)" end,
        }
        """
    }

    /// Two hosts load different versions of `report.lua`. Each fires the occurrences of the
    /// schedule it loaded (an occurrence both fire is one job); each job runs with the definition
    /// of the host that claimed it. `status`, `tasks` and the processes page show the two tasks
    /// versions and warn about them.
    @Test func versionSkewIsVisibleAndEachHostRunsItsOwnDefinition() throws {
        let files: (Int) -> [String: String] = { i in
            i == 0 ? ["report.lua": Self.report("v1", schedule: "*/2 * * * * *"), "same.lua": "return { handler = function() end }"]
                   : ["report.lua": Self.report("v2", schedule: "*/3 * * * * *"), "same.lua": "return { handler = function() end }"]
        }
        try withHosts(count: 2, config: { Self.config($0) }, localConfig: Self.cliConfig, tasks: files) { try skew($0) }
    }

    func skew(_ mh: MultiHost) throws {
        let port = FuzzBinaryTests.freePort()
        let h1 = mh.hosts[0]
        try h1.project.write("crescent.toml", Self.config(h1.url) + "\n[http]\nlisten = \"\(h1.address):\(port)\"\npassword = \"skew-test\"\n")
        for i in 0..<2 { try mh.start(i) }
        #expect(waitFor(timeout: 60, every: 0.2) { mh.int("SELECT count(*) FROM processes") == 2 }, "two runners registered")
        let started = Int(Date().timeIntervalSince1970) + 1
        #expect(waitFor(timeout: 60, every: 0.2) {
            Self.occurrences(mh, "report", from: Double(started)).count >= 6
                && mh.int("SELECT count(*) FROM jobs WHERE task = 'report' AND state = 'succeeded'") >= 6
        }, "the schedules fire")

        // Each host's own tasks version, as `crescent tasks` computes it from its files.
        let versions = try mh.hosts.map { h -> String in
            let r = try h.project.run(["tasks", "--json"])
            return r.json?["tasks_version"]?.stringValue ?? ""
        }
        let ids = (0..<2).map { mh.processID($0) ?? "" }
        let procs = try mh.statusProcesses() ?? []
        let shown = ids.map { id in procs.first { $0["id"]?.stringValue == id }?["tasks_version"]?.stringValue ?? "" }
        let statusText = try mh.cli(["status"]).stdout
        let tasksText = try mh.cli(["tasks"]).stdout
        let page = MultiHost.get("http://\(h1.address):\(port)/processes", bearer: "skew-test")
        let pageText = page.body

        // Which host ran which job, and with which definition.
        let rows = mh.rows("""
            SELECT j.scheduled_for::bigint, r.worker, j.result FROM jobs j JOIN runs r ON r.job_id = j.id
            WHERE j.task = 'report' AND r.outcome = 'succeeded' AND j.scheduled_for >= \(started)
            """).map { $0.split(separator: "|").map(String.init) }
        let stops = mh.stopRunners()
        let wrongDefinition = rows.filter { r in
            r.count == 3 && !((r[1] == ids[0] && r[2].contains("v1")) || (r[1] == ids[1] && r[2].contains("v2")))
        }
        let seconds = rows.compactMap { Int($0.first ?? "") }
        let neither = seconds.filter { $0 % 2 != 0 && $0 % 3 != 0 }
        let onlyV1 = seconds.filter { $0 % 2 == 0 && $0 % 3 != 0 }.count, onlyV2 = seconds.filter { $0 % 3 == 0 && $0 % 2 != 0 }.count
        let perOccurrence = mh.int("SELECT COALESCE(max(c), 0) FROM (SELECT count(*) c FROM jobs WHERE task = 'report' GROUP BY scheduled_for) AS x")
        print("""
            multi-host version skew: tasks versions \(versions) (status shows \(shown)); \(rows.count) report jobs: \
            \(onlyV1) on v1's schedule only, \(onlyV2) on v2's only, \(neither.count) on neither; jobs per occurrence at most \(perOccurrence); \
            run with another host's definition \(wrongDefinition.count); processes page \(page.status), warns \(pageText.contains("different versions"))
            """)
        #expect(versions.count == 2 && versions[0] != versions[1] && !versions[0].isEmpty && !versions[1].isEmpty)
        #expect(shown == versions, "status shows each process's tasks version")
        #expect(statusText.contains("tasks \(versions[0])") && statusText.contains("tasks \(versions[1])") && statusText.contains("2 different task versions"))
        #expect(tasksText.contains(versions[0]) && tasksText.contains(versions[1]) && tasksText.contains("WARNING"))
        #expect(page.status == 200 && pageText.contains(versions[0]) && pageText.contains(versions[1]) && pageText.contains("different versions"))
        #expect(wrongDefinition.isEmpty, "each job ran with the definition of the host that claimed it: \(wrongDefinition.prefix(3))")
        #expect(neither.isEmpty, "only the two schedules' occurrences fired")
        #expect(onlyV1 > 0 && onlyV2 > 0, "both hosts fired their own schedule")
        #expect(perOccurrence == 1, "an occurrence both schedules have is one job")
        #expect(stops.allSatisfy { $0 == 0 })
    }
}
