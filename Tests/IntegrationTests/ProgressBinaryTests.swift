import CrescentCore
import Foundation
import Testing

/// `job:progress` driving the binary: `crescent job` and `jobs`, the API's job JSON and the
/// dashboard show it while the job runs, and its last value stays with the outcome.
@Suite struct ProgressBinaryTests {
    static let steps = """
        return {
          handler = function(job)
            local n = job.args.n
            for i = 1, n do
              job:progress(i, n, "step " .. i)
              sleep(job.args.pause)
            end
            job:progress(n, n, "finished")
            return { steps = n }
          end,
        }

        """

    @Test func progressIsShownWhileRunningAndTheLastValueStaysWithTheOutcome() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: Project.quietConfig + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: ["steps.lua": Self.steps])
        let id = try p.opsEnqueue("steps", ["--args", #"{"n": 6, "pause": 0.5}"#])
        let runner = try OpsRunner(p)
        defer { runner.signal(SIGTERM); _ = runner.waitForExit() }

        // While it runs, the progress written so far (the runner writes at most once a second).
        let running = try opsEventually(20) { () -> JSONValue? in
            let j = try p.opsJob(id)
            return j?["state"]?.stringValue == "running" && j?["progress"]?["done"] != nil ? j : nil
        }
        let progress = try #require(running?["progress"], "no progress while running: \(runner.stderr)")
        let done = try #require(progress["done"]?.intValue)
        #expect((1...6).contains(done))
        #expect(progress["total"] == .int(6))
        #expect(progress["note"] == .string("step \(done)"))
        #expect(progress["at"]?.stringValue.map { (try? TimeText.parse($0)) != nil } == true)

        let text = try p.run(["job", "\(id)"])
        #expect(text.stdout.contains("progress      "), "\(text.stdout)")
        #expect(text.stdout.range(of: #"progress +\d/6 \(\d+%\) step \d  at 20"#, options: .regularExpression) != nil, "\(text.stdout)")
        let table = try p.run(["jobs", "--state", "running"])
        #expect(table.stdout.contains("PROGRESS"), "\(table.stdout)")
        #expect(table.stdout.range(of: #"steps +default +running .* \d+%"#, options: .regularExpression) != nil, "\(table.stdout)")

        let base = URL(string: "http://127.0.0.1:\(port)")!
        #expect(waitFor(timeout: 30, every: 0.1) { FuzzBinaryTests.request(base.appendingPathComponent("healthz"), method: "GET", body: nil).status == 200 })
        let api = FuzzBinaryTests.request(base.appendingPathComponent("api/jobs/\(id)"), method: "GET", body: nil)
        let apiJob = try JSONValue.decode(String(decoding: api.body, as: UTF8.self))
        #expect(apiJob["progress"]?["total"] == .int(6), "\(apiJob)")
        let page = String(decoding: FuzzBinaryTests.request(base.appendingPathComponent("jobs/\(id)"), method: "GET", body: nil).body, as: UTF8.self)
        #expect(page.range(of: #"<dt>Progress</dt><dd><progress max="100" value="\d+">"#, options: .regularExpression) != nil, "\(page)")
        let list = String(decoding: FuzzBinaryTests.request(base.appendingPathComponent("jobs"),
                                                            method: "GET", body: nil).body, as: UTF8.self)
        #expect(list.contains("<progress max=\"100\" value="), "running jobs list shows a bar")

        // "finished" is reported just before the handler returns, well within a second of
        // the previous value: the outcome carries it, whether or not a periodic write came between.
        let finished = try #require(try p.opsWaitFor(id, "succeeded", timeout: 30))
        #expect(finished["progress"]?["done"] == .int(6))
        #expect(finished["progress"]?["note"] == .string("finished"), "\(finished)")
        let after = try p.run(["job", "\(id)"])
        #expect(after.stdout.contains("6/6 (100%) finished"), "\(after.stdout)")
    }

    @Test func execPrintsTheLastProgress() throws {
        let p = try Project(config: Project.quietConfig, tasks: ["steps.lua": Self.steps])
        let r = try p.run(["exec", "steps", "--args", #"{"n": 3, "pause": 0}"#])
        #expect(r.code == 0, "\(r.stderr)")
        #expect(r.stdout.contains("progress: 3/3 (100%) finished"), "\(r.stdout)")
    }

    @Test func badProgressFailsTheAttemptWithAClearError() throws {
        let p = try Project(config: Project.quietConfig, tasks: [
            "bad.lua": "return { retry = { attempts = 1 }, handler = function(job) job:progress(0/0, 10) end }\n",
        ])
        let id = try p.opsEnqueue("bad")
        let runner = try OpsRunner(p, ["--limit", "1"])
        #expect(runner.waitForExit(30) == 0)
        let job = try #require(try p.opsWaitFor(id, "dead", timeout: 10))
        #expect(job["error"]?.stringValue?.contains("tasks/bad.lua:1: job:progress: done must be a finite number of at least 0") == true, "\(job)")
        #expect(job["progress"] == .null)
    }
}
