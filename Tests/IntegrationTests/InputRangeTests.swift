import CrescentCore
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Numbers and times at every edge (HTTP, CLI, handlers) are range-checked with one message,
/// and the dashboard never traps on what is stored.
@Suite(.serialized) struct InputRangeTests {
    static let outOfRange = "is out of range (years 1 to 9999)"

    static func post(_ base: URL, _ body: String) -> (Int, String) {
        let r = FuzzBinaryTests.request(base.appendingPathComponent("api/jobs"), method: "POST", body: Data(body.utf8))
        let message = (try? JSONValue.decode(String(decoding: r.body, as: UTF8.self)))?["error"]?.stringValue ?? ""
        return (r.status, message)
    }

    @Test func farFutureAndHugeOffsetsAreRefusedAndNeverCrashTheDashboard() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: FuzzBinaryTests.config + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: [
            "ok.lua": "return { handler = function(job) return 1 end }",
            "pusher.lua": """
                return { handler = function(job)
                  local out = {}
                  for i, opts in ipairs({ { delay = 1e300 }, { at = -1e300 }, { at = 1e300 }, { at = "99999-01-01T00:00:00Z" },
                                          { at = 0/0 }, { priority = 5000000000 } }) do
                    local ok, err = pcall(queue.push, "ok", {}, opts)
                    out[i] = ok and "pushed" or tostring(err)
                  end
                  return out
                end }
                """,
        ])
        // The CLI: the same sentence for every time outside years 1 to 9999.
        for args in [["--in", "1000000000000000w"], ["--at", "99999-01-01T00:00:00Z"], ["--at", "-1e300"], ["--at", "0000-01-01T00:00:00Z"]] {
            let r = try p.run(["enqueue", "ok"] + args)
            #expect(r.code == 2, "\(args): \(r.stderr)")
            #expect(r.stderr.contains(Self.outOfRange), "\(args): \(r.stderr)")
        }
        #expect(p.sqlInt("SELECT count(*) FROM jobs") == 0)

        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        #expect(waitFor(timeout: 60, every: 0.1) { FuzzBinaryTests.request(base.appendingPathComponent("healthz"), method: "GET", body: nil).status == 200 })

        // The API: refused with 400 and the same sentence.
        for body in [#"{"task": "ok", "delay": 1e300}"#, #"{"task": "ok", "delay": "1000000000000000w"}"#, #"{"task": "ok", "at": -1e300}"#,
                     #"{"task": "ok", "at": 1e300}"#, #"{"task": "ok", "at": "99999-01-01T00:00:00Z"}"#] {
            let (status, message) = Self.post(base, body)
            #expect(status == 400, "\(body)")
            #expect(message.contains(Self.outOfRange), "\(body): \(message)")
        }
        let (badPriority, priorityMessage) = Self.post(base, #"{"task": "ok", "priority": 5000000000}"#)
        #expect(badPriority == 400 && priorityMessage.contains("out of range (-1000000000 to 1000000000)"), "\(priorityMessage)")

        // Handlers: queue.push refuses the same values with the same sentence.
        let id = Int64(try p.run(["enqueue", "pusher"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(waitFor(timeout: 30, every: 0.1) { p.sql("SELECT state FROM jobs WHERE id = \(id)").first == "succeeded" })
        let result = try JSONValue.decode(p.sql("SELECT result FROM jobs WHERE id = \(id)").first ?? "null")
        guard case .array(let errors) = result else { Issue.record("pusher returned \(result)"); return }
        print("queue.push refusals: \(errors.map { $0.stringValue ?? "" })")
        for e in errors.prefix(5) { #expect(e.stringValue?.contains(Self.outOfRange) == true, "\(e)") }
        #expect(errors.last?.stringValue?.contains("queue.push: opts.priority 5000000000 is out of range") == true, "\(String(describing: errors.last))")
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'ok'") == 0)

        // A row with a far-future time written before these checks existed (or by hand).
        let okID = Int64(try p.run(["enqueue", "ok", "--in", "1h"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        _ = p.sql("UPDATE jobs SET run_at = 1e300 WHERE id = \(okID)")
        _ = p.sql("UPDATE jobs SET created_at = -1e300 WHERE id = \(id)")
        var statuses: [String: Int] = [:]
        for path in ["jobs", "dead", "jobs?offset=9223372036854775807", "dead?offset=9223372036854775807", "jobs?offset=1000000000",
                     "api/jobs?offset=9223372036854775807", "jobs/\(okID)", "jobs/\(id)", "api/jobs/\(okID)", "", "queues", "api/stats"] {
            let r = FuzzBinaryTests.request(URL(string: "http://127.0.0.1:\(port)/\(path)")!, method: "GET", body: nil)
            statuses[path] = r.status
            #expect((200..<500).contains(r.status), "GET /\(path): \(r.status) \(r.failure ?? "")")
        }
        print("dashboard with far-future rows: \(statuses.sorted { $0.key < $1.key })")
        #expect(statuses["jobs?offset=9223372036854775807"] == 400)
        #expect(statuses["jobs"] == 200)
        #expect(runner.process.isRunning, "the runner died: \(runner.err.text().suffix(500))")
    }
}
