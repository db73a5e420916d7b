import CrescentCore
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Issue 18 item 8: escaped terminal output and text logs, strict `--at`/`--in`, one priority
/// range, config ranges, 405 with Allow, and `nosniff` on every response; each against the binary.
@Suite(.serialized) struct EdgeItemsTests {
    static let esc = "\u{1B}"

    @Test func controlCharactersAreEscapedInHumanOutput() throws {
        let p = try Project(config: Project.quietConfig, tasks: [
            "boom.lua": "return { handler = function(job) error('\\27[2J\\27[31mred\\nFAKE LINE') end, retry = { attempts = 1 } }",
        ])
        let evilQueue = "q\(Self.esc)[2Jx"
        #expect(try p.run(["enqueue", "boom", "--queue", evilQueue]).code == 0)
        #expect(try p.run(["enqueue", "boom"]).code == 0)
        let runner = try OpsRunner(p, ["--limit", "1"])
        #expect(runner.waitForExit(30) == 0)
        for args in [["jobs"], ["jobs", "--state", "dead"], ["job", "2"], ["status"], ["tasks"]] {
            let r = try p.run(args)
            #expect(r.code == 0, "\(args): \(r.stderr)")
            #expect(!r.stdout.contains(Self.esc), "\(args) printed a raw ESC: \(r.stdout.debugDescription)")
            #expect(!r.stdout.split(separator: "\n").contains { $0.hasPrefix("FAKE LINE") }, "\(args): \(r.stdout)")
        }
        let jobs = try p.run(["jobs"]).stdout
        print("jobs output: \(jobs.debugDescription)")
        #expect(jobs.contains("q\\x1b[2Jx"))
        let job = try p.run(["job", "2"]).stdout
        #expect(job.contains("\\x1b[31mred\\nFAKE LINE"), "\(job)")
        // --json keeps the exact text (JSON escapes it).
        #expect(try p.run(["jobs", "--json"]).jsonLines.contains { $0["queue"]?.stringValue == evilQueue })
    }

    @Test func textLogsCannotBeForgedWithNewlines() throws {
        let p = try Project(config: "database = \"jobs.db\"\n[workers]\nthreads = 1\n[log]\nformat = \"text\"\nlevel = \"info\"\n", tasks: [
            "say.lua": "return { handler = function(job) log.info('hello\\n2026-01-01T00:00:00.000Z ERROR forged', { note = 'a\\nb=c \\27[31m' }) end }",
        ])
        #expect(try p.run(["enqueue", "say"]).code == 0)
        let runner = try OpsRunner(p, ["--limit", "1"])
        #expect(runner.waitForExit(30) == 0)
        let lines = runner.stderr.split(separator: "\n")
        let hello = lines.filter { $0.contains("hello") }
        print("text log line: \(hello)")
        #expect(hello.count == 1)
        #expect(hello.first?.contains("hello\\n2026-01-01T00:00:00.000Z ERROR forged") == true)
        #expect(hello.first?.contains("note=\"a\\nb=c \\x1b[31m\"") == true, "\(hello)")
        #expect(!lines.contains { $0.hasPrefix("2026-01-01T00:00:00.000Z ERROR forged") })
        #expect(!runner.stderr.contains(Self.esc))
    }

    @Test func atInAndPriorityOnTheCommandLine() throws {
        let p = try Project(config: Project.quietConfig, tasks: ["ok.lua": "return { handler = function(job) return 1 end }"])
        let feb30 = try p.run(["enqueue", "ok", "--at", "2026-02-30"])
        #expect(feb30.code == 2 && feb30.stderr.contains("time \"2026-02-30\" is not ISO 8601"), "\(feb30.stderr)")
        let feb30t = try p.run(["enqueue", "ok", "--at", "2026-02-30T00:00:00Z"])
        #expect(feb30t.code == 2 && feb30t.stderr.contains("is not ISO 8601"), "\(feb30t.stderr)")
        let far = try p.run(["enqueue", "ok", "--at", "99999-01-01T00:00:00Z"])
        #expect(far.code == 2 && far.stderr.contains("time \"99999-01-01T00:00:00Z\" is out of range (years 1 to 9999)"), "\(far.stderr)")
        let negIn = try p.run(["enqueue", "ok", "--in", "-5s"])
        #expect(negIn.code == 2 && negIn.stderr.contains("duration \"-5s\" must not be negative"), "\(negIn.stderr)")
        let prio = try p.run(["enqueue", "ok", "--priority", "5000000000"])
        #expect(prio.code == 2 && prio.stderr.contains("--priority 5000000000 is out of range (-1000000000 to 1000000000)"), "\(prio.stderr)")
        #expect(p.sqlInt("SELECT count(*) FROM jobs") == 0)
        // A negative epoch is a time (1969-12-31T23:59:55Z), not a missing value.
        let negAt = try p.run(["enqueue", "ok", "--at", "-5"])
        #expect(negAt.code == 0, "\(negAt.stderr)")
        #expect(p.sql("SELECT run_at FROM jobs").first.flatMap { Double($0) } == -5)
        #expect(try p.run(["enqueue", "ok", "--priority", "-1000000000"]).code == 0)
    }

    @Test func configRangesAreRefusedNamingTheKey() throws {
        for (toml, key, range) in [("[workers]\nthreads = 1000000", "workers.threads", "from 1 to 1024"),
                                   ("[[queues]]\nname = \"default\"\nconcurrency = 99999999999", "queues.concurrency", "from 1 to 1000000"),
                                   ("[workers]\nmemory = \"1B\"", "workers.memory", "from 4MB to 1TB"),
                                   ("[workers]\nmemory = \"1e300GB\"", "workers.memory", "from 4MB to 1TB")] {
            let p = try Project(config: "database = \"jobs.db\"\n" + toml + "\n")
            let jobs = try p.run(["jobs"])
            #expect(jobs.code == 2, "\(toml): \(jobs.stderr)")
            #expect(jobs.stderr.contains("key \"\(key)\": must be \(range)"), "\(toml): \(jobs.stderr)")
            let check = try p.run(["check"])
            // A config error: on standard error with exit 2, as for every command.
            #expect(check.code == 2 && check.stderr.contains("key \"\(key)\""), "\(toml): \(check.stderr)")
        }
    }

    static func fetch(_ url: String, method: String) -> HTTPURLResponse? {
        var req = URLRequest(url: URL(string: url)!)
        req.httpMethod = method
        if method == "POST" { req.httpBody = Data("{}".utf8); req.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        final class Box: @unchecked Sendable { var response: HTTPURLResponse? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: req) { _, response, _ in box.response = response as? HTTPURLResponse; done.signal() }.resume()
        done.wait()
        return box.response
    }

    @Test func wrongMethodIs405WithAllowAndEveryResponseIsNosniff() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: FuzzBinaryTests.config + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: FuzzBinaryTests.tasks)
        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        let base = "http://127.0.0.1:\(port)"
        #expect(waitFor(timeout: 60, every: 0.1) { Self.fetch(base + "/healthz", method: "GET")?.statusCode == 200 })
        for (method, path, status, allow) in [("DELETE", "/api/jobs", 405, "GET, HEAD, POST"), ("PUT", "/jobs", 405, "GET, HEAD"),
                                              ("GET", "/api/jobs/1/retry", 405, "POST"), ("DELETE", "/api/jobs/7", 405, "GET, HEAD"),
                                              ("GET", "/nope", 404, nil), ("GET", "/api/jobs", 200, nil), ("GET", "/", 200, nil),
                                              ("GET", "/metrics", 200, nil), ("GET", "/api/jobs/99", 404, nil), ("GET", "/jobs?offset=-1", 400, nil)] {
            let r = Self.fetch(base + path, method: method)
            #expect(r?.statusCode == status, "\(method) \(path): \(String(describing: r?.statusCode))")
            #expect(r?.value(forHTTPHeaderField: "X-Content-Type-Options") == "nosniff", "\(method) \(path)")
            if let allow { #expect(r?.value(forHTTPHeaderField: "Allow") == allow, "\(method) \(path): \(String(describing: r?.allHeaderFields))") }
        }
    }
}
