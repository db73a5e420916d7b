import CrescentCore
import Foundation
import Testing

/// Issue 16 item 3: several runners share one config (`--http-listen`, `--no-http`), and SIGHUP.
@Suite(.serialized) struct RunOverrideTests {
    static let tasks = ["ok.lua": "return { handler = function(job) end }"]

    @Test func httpListenAndNoHTTPOverrideTheConfig() throws {
        let configured = FuzzBinaryTests.freePort(), other = FuzzBinaryTests.freePort()
        let p = try Project(config: Project.quietConfig + "\n[http]\nlisten = \"127.0.0.1:\(configured)\"\n", tasks: Self.tasks)
        let first = try OpsRunner(p, ["--http-listen", "127.0.0.1:\(other)"])
        let second = try OpsRunner(p, ["--no-http"])
        #expect(opsEventually(15) { Fit.get(port: other, "/healthz") } != nil, "--http-listen: nothing on \(other); \(first.stderr)")
        // Both runners are up (two processes registered) and neither took the configured port.
        let status = try #require(opsEventually(15) { () -> JSONValue? in
            let s = try? p.run(["status", "--json"]).json
            return (s?["processes"]?.array.count ?? 0) == 2 ? s : nil
        }, "two runners never registered; \(second.stderr)")
        #expect(status["processes"]?.array.count == 2)
        #expect(Fit.get(port: configured, "/healthz") == nil, "the configured [http] port answered although both runners override it")
        #expect(first.process.isRunning && second.process.isRunning)

        let bad = try p.run(["run", "--http-listen", "nowhere"])
        #expect(bad.code == 2 && bad.stderr.contains("--http-listen must be host:port"), "\(bad.stderr)")
        let both = try p.run(["run", "--http-listen", "127.0.0.1:1", "--no-http"])
        #expect(both.code == 2, "\(both.stderr)")
    }

    @Test func sighupRereadsTheTasksDirectoryAndLogsIt() throws {
        let p = try Project(config: Project.quietConfig.replacingOccurrences(of: "level = \"warn\"", with: "level = \"info\""), tasks: Self.tasks)
        let runner = try OpsRunner(p)
        #expect(opsEventually(15) { runner.stderr.contains("crescent running") ? true : nil } == true, "\(runner.stderr)")
        runner.signal(SIGHUP)
        let line = opsEventually(10) { () -> JSONValue? in
            runner.jsonLogLines.first { $0["msg"]?.stringValue == "SIGHUP: re-reading the tasks directory" }
        }
        #expect(line?["version"] == .int(2), "\(runner.stderr)")
        let loaded = opsEventually(10) { () -> JSONValue? in
            runner.jsonLogLines.first { $0["msg"]?.stringValue == "tasks loaded" && ($0["version"] == .int(2) || $0["version"] == .string("2")) }
        }
        #expect(loaded != nil, "\(runner.stderr)")
        #expect(runner.process.isRunning, "SIGHUP stopped the runner")
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)
    }
}
