import CrescentCore
import Foundation
import Testing

/// `?q=`, `POST /api/jobs/bulk` and the dashboard's bulk forms against a running binary (issue 15).
@Suite(.serialized) struct BulkActionsHTTPTests {
    func post(_ base: String, _ path: String, _ body: String, type: String = "application/json") -> (Int, String) {
        let r = FuzzBinaryTests.request(URL(string: base + path)!, method: "POST", body: Data(body.utf8), contentType: type)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    func get(_ base: String, _ path: String) -> (Int, String) {
        let r = FuzzBinaryTests.request(URL(string: base + path)!, method: "GET", body: nil)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    @Test func searchAndBulkOverHTTP() throws {
        let port = FuzzBinaryTests.freePort()
        let project = try Project(config: BulkActionsTests.config + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: BulkActionsTests.tasks.merging(["yearly.lua": "return { schedule = \"0 0 1 1 *\", handler = function(job) return 1 end }\n"]) { a, _ in a })
        let dead = try (0..<4).map { i in try project.opsEnqueue("boom", ["--args", "{\"tag\":\"Needle-\(i)\"}"]) }
        let runner = try OpsRunner(project)
        let base = "http://127.0.0.1:\(port)"
        for id in dead { #expect(try project.opsWaitFor(id, "dead") != nil) }

        let found = try JSONValue.decode(get(base, "/api/jobs?q=NEEDLE-2").1)
        #expect(found.array.compactMap { $0["id"]?.intValue } == [dead[2]])
        let page = get(base, "/jobs?state=dead&q=needle").1
        #expect(page.contains("name=\"id-\(dead[0])\"") && page.contains("type dead to confirm") && page.contains("value=\"needle\""))

        let bad = post(base, "/api/jobs/bulk", "{\"action\":\"explode\",\"ids\":[1]}")
        #expect(bad.0 == 400 && bad.1.contains("must be one of retry, delete, cancel, run-now"), "\(bad)")
        let running = post(base, "/api/jobs/bulk", "{\"action\":\"delete\",\"state\":\"running\"}")
        #expect(running.0 == 400 && running.1.contains("running jobs cannot be deleted"), "\(running)")
        let retried = try JSONValue.decode(post(base, "/api/jobs/bulk", "{\"action\":\"retry\",\"ids\":[\(dead[0]),\(dead[1])]}").1)
        #expect(retried["done"] == .array([.int(dead[0]), .int(dead[1])]))
        for id in dead.prefix(2) { #expect(try project.opsWaitFor(id, "dead") != nil) }

        // The dashboard form: ticked rows need the confirmation box; deleting a whole state a typed name.
        let csrf = try #require(page.range(of: "name=\"csrf\" value=\"").map { String(page[$0.upperBound...].prefix { $0 != "\"" }) })
        let unconfirmed = post(base, "/jobs/bulk", "csrf=\(csrf)&action=delete&id-\(dead[3])=on", type: "application/x-www-form-urlencoded")
        #expect(unconfirmed.0 == 400, "\(unconfirmed)")
        #expect(try project.opsState(dead[3]) == "dead")
        let one = post(base, "/jobs/bulk", "csrf=\(csrf)&action=delete&confirm=yes&id-\(dead[3])=on", type: "application/x-www-form-urlencoded")
        #expect(one.0 == 303 || one.0 == 200, "\(one)")
        #expect(try project.opsJob(dead[3]) == nil)
        let wrongName = post(base, "/jobs/bulk", "csrf=\(csrf)&action=delete&all=yes&state=dead&confirm_state=dea", type: "application/x-www-form-urlencoded")
        #expect(wrongName.0 == 400, "\(wrongName)")
        #expect(try project.opsState(dead[0]) == "dead")
        let all = post(base, "/jobs/bulk", "csrf=\(csrf)&action=delete&all=yes&state=dead&confirm_state=dead", type: "application/x-www-form-urlencoded")
        #expect(all.0 == 303 || all.0 == 200, "\(all)")
        for id in dead { #expect(try project.opsJob(id) == nil) }
        print("bulk http: q= found 1, API retry moved 2, form delete 1 ticked then 3 by typed state")

        // A scheduled task's "run now" button on the tasks page.
        let tasks = get(base, "/tasks").1
        #expect(tasks.contains("action=\"/tasks/run\"") && tasks.contains("name=\"task\" value=\"yearly\""), "\(tasks)")
        let fired = post(base, "/tasks/run", "csrf=\(csrf)&task=yearly", type: "application/x-www-form-urlencoded")
        #expect(fired.0 == 303 || fired.0 == 200, "\(fired)")
        let yearly = try project.run(["jobs", "--task", "yearly", "--json"]).jsonLines.compactMap { $0["id"]?.intValue }
        #expect(yearly.count == 1)
        if let id = yearly.first { #expect(try project.opsWaitFor(id, "succeeded") != nil) }
        #expect(post(base, "/tasks/run", "csrf=\(csrf)&task=nosuch", type: "application/x-www-form-urlencoded").0 == 404)
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)
    }
}
