import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// `args`, `schedules`, `enabled` and `retention` in task files.
@Suite struct ScheduleFieldsTests {
    @Test func scheduleArgsSeveralSchedulesEnabledAndRetention() throws {
        let fx = try Fixture([
            "report.lua": """
                return {
                  schedules = {
                    { cron = "0 * * * *", args = { kind = "hourly" } },
                    { every = "5m", name = "poll" },
                    { at = "2030-01-01T00:00:00Z", args = { kind = "once" } },
                    { schedule = "@daily" },
                  },
                  args = { kind = "default" },
                  enabled = false,
                  retention = { succeeded = "0s", dead = "7d" },
                  handler = function(job) end,
                }
                """,
            "single.lua": "return { schedule = \"every 1 hour\", args = { n = 7, list = { 1, 2 } }, handler = function() end }",
        ])
        let set = fx.load()
        #expect(set.errors.isEmpty, "\(set.errors)")
        let defs = Dictionary(uniqueKeysWithValues: set.definitions.map { ($0.name, $0) })
        let report = try #require(defs["report"])
        #expect(report.schedules.map(\.id) == ["1", "poll", "3", "4"])
        #expect(report.schedules.map(\.text) == ["0 * * * *", "every 5m", "at 2030-01-01T00:00:00Z", "@daily"])
        #expect(report.schedules.map(\.args) == [#"{"kind":"hourly"}"#, #"{"kind":"default"}"#, #"{"kind":"once"}"#, #"{"kind":"default"}"#])
        #expect(report.schedules[1].schedule.intervalSeconds == 300)
        #expect(!report.enabled && report.activeSchedules.isEmpty && report.allSchedules.count == 4)
        #expect(report.retention == TaskRetention(succeeded: 0, dead: 7 * 86400))
        let single = try #require(defs["single"])
        #expect(single.allSchedules.map(\.id) == [""])
        #expect(single.allSchedules[0].args == #"{"list":[1,2],"n":7}"#)
        // The published definition reads back the same.
        #expect(TaskDefinition(json: report.json()) == report)
        #expect(TaskDefinition(json: single.json()) == single)
    }

    @Test(arguments: [
        ("schedules = 5,", "field \"schedules\" must be a list of tables"),
        ("schedules = {},", "field \"schedules\" must not be empty"),
        ("schedules = { hourly = { cron = \"0 * * * *\" } },", "field \"schedules\" must be a list (1, 2, …), found the key \"hourly\""),
        ("schedules = { { cron = \"0 * * * *\" }, \"@daily\" },", "field \"schedules\", entry 2: must be a table"),
        ("schedules = { { cron = \"0 * * * *\" }, { cron = \"0 25 * * *\" } },", "field \"schedules\", entry 2: \"cron\": "),
        ("schedules = { { every = \"5 parsecs\" } },", "field \"schedules\", entry 1: \"every\": interval \"every 5 parsecs\""),
        ("schedules = { { cron = \"every 5m\" } },", "field \"schedules\", entry 1: \"cron\" = \"every 5m\" is not a cron line"),
        ("schedules = { { args = { a = 1 } } },", "field \"schedules\", entry 1: needs one of cron"),
        ("schedules = { { cron = \"0 * * * *\", every = \"5m\" } },", "field \"schedules\", entry 1: give only one of \"cron\", \"every\""),
        ("schedules = { { cron = \"0 * * * *\", when = 1 } },", "field \"schedules\", entry 1: unknown key \"when\""),
        ("schedules = { { cron = \"0 * * * *\", args = 5 } },", "field \"schedules\", entry 1: field \"args\" must be a table"),
        ("schedules = { { every = \"1h\", name = \"a\" }, { every = \"2h\", name = \"a\" } },", "field \"schedules\", entry 2: name \"a\" is used twice"),
        ("schedules = { { every = \"1h\" } }, schedule = \"@daily\",", "fields \"schedule\" and \"schedules\" cannot both be set"),
        ("args = { a = 1 },", "field \"args\" gives a schedule's args: it needs \"schedule\""),
        ("schedule = \"@daily\", args = \"x\",", "field \"args\" must be a table"),
        ("schedule = \"@daily\", args = { f = function() end },", "field \"args\": "),
        ("enabled = \"no\",", "field \"enabled\" must be true or false, not \"no\""),
        ("retention = { done = \"1d\" },", "field \"retention\": unknown state \"done\" (states are: succeeded, dead, cancelled, expired)"),
        ("retention = { succeeded = \"soon\" },", "field \"retention\": succeeded: duration \"soon\""),
        ("retention = { dead = -1 },", "field \"retention\": dead: duration -1.0 must be a non-negative"),
        ("retention = \"7d\",", "field \"retention\" must be a table"),
    ])
    func fieldErrors(settings: String, expected: String) throws {
        let fx = try Fixture(["t.lua": "return {\n\(settings)\nhandler = function(job) end }\n", "ok.lua": "return { handler = function() end }"])
        let set = fx.load()
        #expect(set.definitions.map(\.name) == ["ok"])
        let e = try #require(set.errors.first)
        #expect(e.file == "tasks/t.lua")
        #expect(e.message.contains(expected), "\(e.message)")
    }
}
