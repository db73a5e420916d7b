import CrescentCore
import Foundation
import Testing

/// Issue 16 item 5: every line of `[log] format = "json"` is one JSON object a log pipeline can
/// read, the HTTP server's lines included, numbers as numbers, one "listening" line.
@Suite(.serialized) struct JSONLogTests {
    /// Keys whose values are counts, ids or seconds wherever they appear.
    static let numericKeys: Set<String> = ["runs", "tasks", "errors", "version", "threads", "timeout_s", "count",
                                           "job.id", "attempt", "worker", "failures", "after_s", "fired", "removed_pending"]

    @Test func everyLineIsJSONWithNumbersAsNumbers() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: Project.quietConfig.replacingOccurrences(of: "level = \"warn\"", with: "level = \"debug\"")
                            + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n",
                            tasks: ["ok.lua": "return { handler = function(job) log.info(\"done\", { n = 3 }) end }",
                                    "tick.lua": "return { schedule = \"every 1s\", handler = function(job) end }",
                                    "broken.lua": "return { handler = 3 }"])
        let runner = try OpsRunner(p)
        #expect(opsEventually(15) { Fit.get(port: port, "/healthz") } != nil, "\(runner.stderr)")
        let id = try p.opsEnqueue("ok")
        try #require(try p.opsWaitFor(id, "succeeded") != nil)
        _ = Fit.get(port: port, "/api/jobs/999999")  // a 404 through the server's error path
        _ = FuzzBinaryTests.request(URL(string: "http://127.0.0.1:\(port)/api/jobs")!, method: "POST", body: Data("{".utf8))
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)

        let lines = runner.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count >= 5, "\(runner.stderr)")
        var seenNumbers: Set<String> = []
        for line in lines {
            guard let v = try? JSONValue.decode(line), case .object(let fields) = v else {
                Issue.record("not a JSON object: \(line)")
                continue
            }
            #expect(fields["ts"]?.stringValue != nil && fields["level"]?.stringValue != nil && fields["msg"]?.stringValue != nil, "\(line)")
            for (key, value) in fields where Self.numericKeys.contains(key) {
                switch value {
                case .int, .double: seenNumbers.insert(key)
                default: Issue.record("\(key) is not a JSON number: \(line)")
                }
            }
        }
        for key in ["runs", "tasks", "errors", "version", "threads", "timeout_s", "job.id", "attempt"] {
            #expect(seenNumbers.contains(key), "no line carried \(key) as a number:\n\(runner.stderr)")
        }
        let listening = lines.filter { $0.lowercased().contains("listening") || $0.contains("Server started") }
        #expect(listening.count == 1, "listening lines: \(listening)")
        #expect(listening.first?.contains("http://127.0.0.1:\(port)/") == true, "\(listening)")
    }
}
