import CrescentCore
import Foundation
import Testing

/// Pause/resume and quiet/stop through `/api`, `/metrics` and the dashboard of a running binary (issue 15).
@Suite(.serialized) struct OperatorControlHTTPTests {
    func post(_ base: String, _ path: String, body: String = "", type: String = "application/json") -> (Int, String) {
        let r = FuzzBinaryTests.request(URL(string: base + path)!, method: "POST", body: Data(body.utf8), contentType: type)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    func get(_ base: String, _ path: String) -> (Int, String) {
        let r = FuzzBinaryTests.request(URL(string: base + path)!, method: "GET", body: nil)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    @Test func pauseResumeQuietStopOverHTTP() throws {
        let port = FuzzBinaryTests.freePort()
        let project = try Project(config: OperatorControlTests.config + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n",
                                  tasks: OperatorControlTests.tasks)
        let runner = try OpsRunner(project)
        let base = "http://127.0.0.1:\(port)"
        #expect(opsEventually { get(base, "/healthz").0 == 200 ? true : nil } == true, "\(runner.stderr.suffix(500))")

        let (status, body) = post(base, "/api/queues/bulk/pause")
        #expect(status == 200, "\(body)")
        let answer = try JSONValue.decode(body)
        #expect(answer["paused"] == .bool(true) && answer["changed"] == .bool(true) && answer["queue"] == .string("bulk"))
        #expect(try JSONValue.decode(post(base, "/api/queues/bulk/pause").1)["changed"] == .bool(false))
        let held = try project.opsEnqueue("ok", ["--queue", "bulk"])
        let other = try project.opsEnqueue("ok")
        #expect(try project.opsWaitFor(other, "succeeded") != nil)
        #expect(try project.opsState(held) == "queued")

        let metrics = get(base, "/metrics").1
        let pausedLine = metrics.split(separator: "\n").first { $0.hasPrefix("crescent_queue_paused{queue=\"bulk\"}") }
        #expect(pausedLine.map { $0.hasSuffix(" 1") || $0.hasSuffix(" 1.0") } == true, "\(metrics)")
        #expect(metrics.contains("crescent_queue_paused{queue=\"default\"} 0"), "\(metrics)")
        #expect(try JSONValue.decode(get(base, "/api/stats").1)["paused_queues"] == .array([.string("bulk")]))
        let queuesPage = get(base, "/queues").1
        #expect(queuesPage.contains("action=\"/queues/bulk/resume\"") && queuesPage.contains("action=\"/queues/default/pause\""))

        let unknown = post(base, "/api/queues/nosuch/pause")
        #expect(unknown.0 == 404 && unknown.1.contains("no queue named"), "\(unknown)")
        #expect(post(base, "/api/queues/bulk/resume").0 == 200)
        #expect(try project.opsWaitFor(held, "succeeded") != nil)
        #expect(get(base, "/metrics").1.contains("crescent_queue_paused{queue=\"bulk\"} 0"))

        let id = try #require(try OperatorControlTests.processIDs(project, count: 1).values.first)
        // The processes page links the jobs each process runs now.
        let slow = try project.opsEnqueue("slow")
        #expect(try project.opsWaitFor(slow, "running") != nil)
        #expect(opsEventually { get(base, "/processes").1.contains("<a href=\"/jobs/\(slow)\">\(slow)</a>") ? true : nil } == true)
        #expect(try project.opsWaitFor(slow, "succeeded") != nil)
        let page = get(base, "/processes").1
        let encoded = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
        #expect(page.contains("/quiet\"") && page.contains("/stop\""), "\(page)")
        #expect(post(base, "/api/processes/no-such/quiet").0 == 404)
        let quiet = post(base, "/api/processes/\(encoded)/quiet")
        #expect(quiet.0 == 202, "\(quiet)")
        #expect(opsEventually { get(base, "/processes").1.contains(">quiet</span>") ? true : nil } == true)
        // The process has taken it in once it says so (its heartbeat looks every 250 ms).
        #expect(opsEventually { runner.jsonLogLines.contains { $0["msg"]?.stringValue?.hasPrefix("quiet requested") == true } ? true : nil } == true)
        let waiting = try project.opsEnqueue("ok")
        // Quiet: nothing new is claimed while the process lives; stop ends it gracefully.
        #expect(try project.opsState(waiting) == "queued")
        #expect(post(base, "/api/processes/\(encoded)/stop").0 == 202)
        #expect(runner.waitForExit() == 0)
        #expect(try project.opsState(waiting) == "queued")
        print("http control: pause/resume, metrics 1→0, quiet left job \(waiting) queued, stop ended the process")
    }
}
