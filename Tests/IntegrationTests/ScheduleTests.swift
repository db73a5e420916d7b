import CrescentCore
import Foundation
import Testing

@Suite(.serialized) struct ScheduleIntegrationTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 1
        [log]
        format = "json"
        level = "warn"
        """

    /// Two `run` processes on one database and an every-second schedule: each occurrence
    /// becomes exactly one job.
    @Test func twoProcessesFireEachOccurrenceOnce() throws {
        let project = try Project(config: Self.config, tasks: [
            "tick.lua": """
                return { schedule = "* * * * * *", handler = function(job) return job.scheduled_for end }
                """,
        ])
        // Create the database first so both processes start on a ready schema.
        #expect(try project.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        let (a, _, _) = try project.start(["run"])
        let (b, _, _) = try project.start(["run"])
        Thread.sleep(forTimeInterval: 6)
        a.interrupt()
        b.interrupt()
        a.waitUntilExit()
        b.waitUntilExit()
        #expect(a.terminationStatus == 0)
        #expect(b.terminationStatus == 0)

        let jobs = try project.run(["jobs", "--json", "--limit", "1000"]).jsonLines
        let occurrences = jobs.compactMap { $0["scheduled_for"]?.stringValue }
        #expect(occurrences.count >= 4, "about one job per second over ~6 s, got \(occurrences.count)")
        #expect(Set(occurrences).count == occurrences.count, "no occurrence fired twice")
        let workers = Set(jobs.compactMap { job -> String? in
            guard let id = job["id"]?.intValue else { return nil }
            return try? project.run(["job", "\(id)", "--json"]).json?["runs"]?.array.first?["worker"]?.stringValue
        })
        print("two-process schedule: \(occurrences.count) occurrences, \(Set(occurrences).count) distinct, run by \(workers.count) process(es)")
        // Every occurrence is a whole second.
        #expect(occurrences.allSatisfy { $0.hasSuffix(".000Z") })
    }

    /// A `last_fired` an hour ahead (the clock stepped back 1 h) is logged and clamped, so a
    /// fresh runner's every-second schedule fires at once rather than in an hour.
    @Test func lastFiredInTheFutureIsClamped() throws {
        let project = try Project(config: Self.config, tasks: [
            "tick.lua": """
                return { schedule = "* * * * * *", handler = function(job) return 1 end }
                """,
        ])
        #expect(try project.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        let ahead = Date().timeIntervalSince1970 + 3600
        _ = project.sql("INSERT INTO schedules (task, last_fired) VALUES ('tick', \(ahead)) ON CONFLICT (task, schedule) DO UPDATE SET last_fired = excluded.last_fired")
        #expect(project.sqlInt("SELECT count(*) FROM schedules WHERE task = 'tick' AND last_fired > \(ahead - 1)") == 1)
        let runner = try Background(project, ["run"])
        let jobs = { (try? project.run(["jobs", "--json", "--limit", "100"]).jsonLines) ?? [] }
        waitFor(timeout: 15, every: 0.2) { jobs().count >= 2 }
        runner.interrupt()
        #expect(runner.err.text().contains("last fired time lies in the future"))
        let fired = jobs().count
        #expect(fired >= 2, "the schedule kept firing, got \(fired) jobs")
    }

    @Test func nextPrintsOccurrencesAndRejectsBadSchedules() throws {
        let project = try Project(config: Self.config)
        let spring = try project.run(["next", "30 2 * * *", "--tz", "Europe/Berlin", "--from", "2026-03-28T12:00:00Z", "--count", "2"], config: false)
        #expect(spring.code == 0)
        #expect(spring.stdout == "2026-03-29T01:00:00Z\n2026-03-30T00:30:00Z\n")
        let autumn = try project.run(["next", "30 2 * * *", "--tz", "Europe/Berlin", "--from", "2026-10-24T12:00:00Z", "--count", "2"], config: false)
        #expect(autumn.stdout == "2026-10-25T00:30:00Z\n2026-10-26T01:30:00Z\n")
        let bad = try project.run(["next", "0 25 * * *"], config: false)
        #expect(bad.code == 2)
        #expect(bad.stderr.contains("hour"))
    }
}
