import CrescentCore
import Foundation
import Testing

/// Schedules you can watch and drive (issue 15, item 5): args beside `schedule`, several
/// schedules per task, `enabled = false`, and what `tasks` says about missed occurrences.
@Suite(.serialized) struct ScheduleWatchTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 2
        [log]
        format = "json"
        level = "warn"
        """

    /// Two schedules of one task fire at the same instants (every second): each instant
    /// gives one job per schedule, with that schedule's args; a task's `args` reach its
    /// jobs; a disabled task fires nothing but can be enqueued by hand.
    @Test func severalSchedulesWithArgsAndDisabledTask() throws {
        let project = try Project(config: Self.config, tasks: [
            "multi.lua": """
                return {
                  schedules = {
                    { every = "1s", args = { kind = "fast" } },
                    { cron = "* * * * * *", args = { kind = "cron" }, name = "sec" },
                  },
                  handler = function(job) return job.args.kind end,
                }
                """,
            "single.lua": """
                return { schedule = "every 1s", args = { n = 7 }, handler = function(job) return job.args.n end }
                """,
            "off.lua": """
                return { schedule = "* * * * * *", enabled = false, handler = function(job) return "by hand" end }
                """,
        ])
        #expect(try project.run(["retry", "--all-dead"]).code == 0, "the database is created")
        let runner = try Background(project, ["run"])
        let jobs = { (try? project.run(["jobs", "--json", "--limit", "1000"]).jsonLines) ?? [] }
        func ofTask(_ t: String) -> [JSONValue] { jobs().filter { $0["task"]?.stringValue == t } }
        #expect(waitFor(timeout: 30, every: 0.2) {
            let m = ofTask("multi")
            return m.filter { $0["args"]?["kind"]?.stringValue == "fast" }.count >= 3
                && m.filter { $0["args"]?["kind"]?.stringValue == "cron" }.count >= 3
        }, "both schedules fire")
        #expect(try project.run(["enqueue", "off"]).code == 0, "a disabled task can still be enqueued")
        #expect(waitFor(timeout: 20, every: 0.2) { ofTask("off").contains { $0["state"]?.stringValue == "succeeded" } })
        runner.interrupt()

        let multi = ofTask("multi")
        let fast = multi.filter { $0["args"]?["kind"]?.stringValue == "fast" }.compactMap { $0["scheduled_for"]?.stringValue }
        let cron = multi.filter { $0["args"]?["kind"]?.stringValue == "cron" }.compactMap { $0["scheduled_for"]?.stringValue }
        #expect(fast.count + cron.count == multi.count, "every job of multi has one schedule's args")
        #expect(Set(fast).count == fast.count && Set(cron).count == cron.count, "each occurrence once per schedule")
        let shared = Set(fast).intersection(cron)
        #expect(shared.count >= 2, "both schedules fired at the same instants, as separate jobs")
        let single = ofTask("single")
        #expect(single.count >= 2 && single.allSatisfy { $0["args"]?["n"]?.intValue == 7 })
        let off = ofTask("off")
        #expect(off.count == 1 && off[0]["scheduled_for"] == .null, "the disabled schedule fired nothing")
        print("several schedules: multi fast \(fast.count), cron \(cron.count), \(shared.count) instants shared; single \(single.count) with args {n=7}; disabled task \(off.count) job (by hand)")

        let tasks = try project.run(["tasks", "--json"]).json
        let byName = Dictionary(uniqueKeysWithValues: (tasks?["tasks"]?.array ?? []).compactMap { t in t["name"]?.stringValue.map { ($0, t) } })
        let multiSchedules = byName["multi"]?["schedules"]?.array ?? []
        #expect(multiSchedules.compactMap { $0["id"]?.stringValue } == ["1", "sec"])
        #expect(multiSchedules.allSatisfy { $0["last_fired"]?.stringValue != nil })
        #expect(byName["off"]?["enabled"] == .bool(false))
        #expect(byName["off"]?["next_fire"] == .null)
        let text = try project.run(["tasks"]).stdout
        print(text)
        #expect(text.contains("multi #1") && text.contains("multi sec") && text.contains("disabled"))
    }

    /// Three hourly tasks whose schedules last fired ten hours ago (no runner since): `tasks`
    /// counts the occurrences missed so far; after a runner starts it reports what `missed`
    /// did with them ("10 missed, 1 run (missed = once)"), and the jobs agree.
    @Test func missedOccurrencesAreCountedAndReported() throws {
        var tasks: [String: String] = [:]
        for policy in ["all", "once", "skip"] {
            tasks["h_\(policy).lua"] = "return { schedule = \"every 1 hour\", missed = \"\(policy)\", handler = function(job) return 1 end }"
        }
        let project = try Project(config: Self.config, tasks: tasks)
        #expect(try project.run(["retry", "--all-dead"]).code == 0, "the database is created")
        let hour = 3600.0
        let lastFired = ((Date().timeIntervalSince1970 / hour).rounded(.down) - 10) * hour
        for policy in ["all", "once", "skip"] {
            _ = project.sql("INSERT INTO schedules (task, last_fired) VALUES ('h_\(policy)', \(lastFired))")
        }
        let schedule = try Schedule.parse("every 1 hour")
        let utc = TimeZone(identifier: "UTC")!
        let before = try project.run(["tasks", "--json"]).json?["tasks"]?.array ?? []
        let expectedNow = schedule.count(after: Date(timeIntervalSince1970: lastFired), through: Date().addingTimeInterval(-30), limit: 10_000, in: utc)
        for t in before {
            let overdue = t["schedules"]?.array.first?["overdue"]?.intValue
            #expect(overdue == Int64(expectedNow) || overdue == Int64(expectedNow - 1), "\(t["name"]?.stringValue ?? ""): overdue \(overdue ?? -1)")
        }
        print(try project.run(["tasks"]).stdout)

        let runner = try Background(project, ["run"])
        func report() -> [String: JSONValue] {
            let list = (try? project.run(["tasks", "--json"]).json?["tasks"]?.array) ?? []
            return Dictionary(uniqueKeysWithValues: list.compactMap { t in
                t["name"]?.stringValue.map { ($0, t["schedules"]?.array.first?["last_catch_up"] ?? .null) } })
        }
        #expect(waitFor(timeout: 30, every: 0.2) { report().values.allSatisfy { $0 != .null } }, "every schedule caught up")
        #expect(waitFor(timeout: 30, every: 0.2) { project.sqlInt("SELECT count(*) FROM jobs WHERE state <> 'succeeded'") == 0 })
        runner.interrupt()

        let caught = report()
        var counts: [String: Int] = [:]
        for policy in ["all", "once", "skip"] {
            let c = caught["h_\(policy)"] ?? .null
            let from = try TimeText.parse(c["from"]?.stringValue ?? "")
            let through = try TimeText.parse(c["through"]?.stringValue ?? "")
            #expect(abs(from.timeIntervalSince1970 - lastFired) < 0.001)
            let missed = schedule.count(after: from, through: through.addingTimeInterval(-30), limit: 10_000, in: utc)
            #expect(missed >= 9 && c["missed"]?.intValue == Int64(missed), "\(policy): \(c)")
            let jobs = project.sqlInt("SELECT count(*) FROM jobs WHERE task = 'h_\(policy)' AND scheduled_for <= \(through.timeIntervalSince1970 - 30)")
            counts[policy] = jobs
            let run = c["run"]?.intValue ?? -1
            #expect(Int(run) == jobs, "\(policy): the run count matches the jobs made")
            switch policy {
            case "all": #expect(run == Int64(missed))
            case "once": #expect(run == 1)
            default: #expect(run == 0)
            }
            #expect(c["summary"]?.stringValue == "\(missed) missed, \(run) run (missed = \(policy))")
            print("catch-up h_\(policy): \(c["summary"]?.stringValue ?? "")")
        }
        print(try project.run(["tasks"]).stdout)
    }
}
