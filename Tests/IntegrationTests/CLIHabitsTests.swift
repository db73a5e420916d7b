import CrescentCore
import Foundation
import Testing

/// Issue 16 item 6: the command line behaves as people expect of one.
@Suite(.serialized) struct CLIHabitsTests {
    static let longError = "the notification service answered 503 Service Unavailable with body {\\\"detail\\\":\\\"upstream connect error or disconnect/reset before headers\\\"}"
    static let tasks = [
        "ok.lua": "return { handler = function(job) end }",
        "slow.lua": "return { handler = function(job) sleep(1.2) end }",
        "fail.lua": "return { retry = { attempts = 2, delay = \"1s\" }, handler = function(job) error(\"\(longError)\") end }",
    ]

    @Test func versionAndHelp() throws {
        let p = try Project(config: Project.quietConfig)
        for flag in ["--version", "-V"] {
            let r = try p.run([flag], config: false)
            #expect(r.code == 0 && r.stdout == "crescent \(CrescentVersion.current)\n", "\(flag): \(r.stdout) \(r.stderr)")
        }
        for command in ["jobs", "next", "bench", "run", "enqueue"] {
            let help = try p.run([command, "--help"], config: false).stdout
            let doubled = help.split(separator: "\n").filter { $0.contains("(default ") && $0.contains("(default: ") }
            #expect(doubled.isEmpty, "\(command) --help repeats a default: \(doubled)")
        }
        #expect(try p.run(["--help"], config: false).stdout.contains("docs/README.md"))
    }

    @Test func readOnlyCommandsDoNotCreateADatabase() throws {
        let p = try Project(config: "database = \"missing.db\"\n", tasks: Self.tasks)
        if ProcessInfo.processInfo.environment["CRESCENT_TEST_STORE"] == "postgres" { return }  // SQLite only
        for args in [["status"], ["jobs"], ["job", "1"], ["tasks"]] {
            let r = try p.run(args)
            let path = p.dir.appendingPathComponent("missing.db").path
            #expect(r.code == 1, "\(args): exit \(r.code)")
            #expect(r.stderr.contains("no database at \(path) (run `crescent run` first, or check --config)"), "\(args): \(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: path), "\(args) created \(path)")
        }
    }

    @Test func argsMustBeAnObjectAndCheckExitsTwoOnConfigErrors() throws {
        let p = try Project(config: Project.quietConfig, tasks: Self.tasks)
        for bad in ["[1]", "3", "\"x\"", "{"] {
            let r = try p.run(["enqueue", "ok", "--args", bad])
            #expect(r.code == 2 && r.stderr.contains("args"), "--args \(bad): \(r.code) \(r.stderr)")
        }
        #expect(try p.run(["enqueue", "ok", "--args", "{\"a\":1}"]).code == 0)
        let broken = try Project(config: "database = 5\n", tasks: Self.tasks)
        let check = try broken.run(["check"])
        #expect(check.code == 2, "check on a broken config: \(check.code) \(check.stdout) \(check.stderr)")
        #expect((check.stdout + check.stderr).contains("crescent.toml:1"))
    }

    @Test func checkWarnsAboutMillisecondLikeDurations() throws {
        let p = try Project(config: Project.quietConfig, tasks: [
            "ms.lua": "return {\n  ttl = 60000,\n  retry = { attempts = 3, delay = 30 },\n  handler = function(job) end,\n}",
        ])
        let r = try p.run(["check"])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stderr.contains("tasks/ms.lua:2: ttl = 60000 is 60000 seconds (16h40m)"), "\(r.stderr)")
        #expect(!r.stderr.contains("delay = 30"), "\(r.stderr)")
    }

    @Test func jobsListingIsForPeople() throws {
        let p = try Project(config: Project.quietConfig, tasks: Self.tasks)
        let ok = try p.opsEnqueue("ok"), slow = try p.opsEnqueue("slow"), fail = try p.opsEnqueue("fail")
        let runner = try OpsRunner(p)
        try #require(try p.opsWaitFor(ok, "succeeded") != nil)
        try #require(try p.opsWaitFor(slow, "succeeded") != nil)
        try #require(try p.opsWaitFor(fail, "dead") != nil, "\(runner.stderr)")
        runner.signal(SIGTERM)
        _ = runner.waitForExit()

        let listing = try p.run(["jobs"])
        print("crescent jobs:\n\(listing.stdout)")
        let lines = listing.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["ID", "TASK", "QUEUE", "STATE", "ATTEMPT", "AGE", "DURATION", "PROGRESS", "ERROR"])
        let failLine = try #require(lines.first { $0.hasPrefix("\(fail) ") })
        #expect(failLine.contains("fail") && failLine.contains("dead") && failLine.contains("2/2") && failLine.contains("s ago"), "\(failLine)")
        // Cut at a word boundary before the JSON body, marked with an ellipsis.
        #expect(failLine.hasSuffix("answered 503…"), "\(failLine)")
        let slowLine = try #require(lines.first { $0.hasPrefix("\(slow) ") })
        let duration = slowLine.split(separator: " ", omittingEmptySubsequences: true)[7]
        #expect(duration.hasSuffix("s") && (Double(duration.dropLast()) ?? 0) >= 1.2, "\(slowLine)")

        let job = try p.run(["job", "\(fail)"])
        let errorText = "upstream connect error"
        let mentions = job.stdout.components(separatedBy: errorText).count - 1
        #expect(mentions == 2, "one error per run (two runs), not repeated: \(job.stdout)")
    }
}
