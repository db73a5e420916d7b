import CrescentCore
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Generated bad input against the real binary: CLI arguments, task files, configs, HTTP
/// request bodies and handler results. Every launch must end by `exit` (never a signal)
/// with 0, 1 or 2, and nothing half-applied may be left behind. The bulk of the fuzzing
/// runs in-process (CrescentRuntimeTests/FuzzTests); these launches check the wiring.
@Suite(.serialized) struct FuzzBinaryTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 1
        lease = "2s"
        [log]
        format = "json"
        level = "warn"
        """

    static let tasks = [
        "ok.lua": "return { handler = function(job) return job.args end }",
        "uniq.lua": "return { unique = 'args', handler = function(job) return 1 end }",
    ]

    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
        mutating func chance(_ n: Int) -> Bool { Int.random(in: 0..<n, using: &self) == 0 }
    }

    static let deepArray = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
    static let deepObject = String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000)

    /// Exit (not a signal) with 0, 1 or 2; an error is one line on stderr.
    func expectClean(_ p: Process, _ r: Project.Result, _ what: String) {
        #expect(p.terminationReason == .exit, "\(what) ended by a signal")
        #expect([0, 1, 2].contains(r.code), "\(what) exited \(r.code): \(r.stderr.prefix(300))")
        if r.code != 0 { #expect(!(r.stderr + r.stdout).isEmpty, "\(what) failed without saying why") }
    }

    /// Like `Project.run`, also answering how the process ended.
    func launch(_ project: Project, _ args: [String], config: Bool = true) throws -> (Process, Project.Result) {
        let (p, out, err) = try project.start(args, config: config)
        let o = ReadAll(out), e = ReadAll(err)
        let deadline = Date().addingTimeInterval(60)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
        return (p, Project.Result(code: p.terminationStatus, stdout: o.text(), stderr: e.text()))
    }

    // MARK: CLI arguments

    @Test func randomCommandLines() throws {
        let p = try Project(config: Self.config, tasks: Self.tasks)
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        var rng = Rng(state: 0xC11_0001)
        let commands = ["enqueue", "jobs", "job", "retry", "cancel", "tasks", "status", "check", "next", "exec", "help", "nope", ""]
        let flags = ["--json", "--state", "--task", "--queue", "--limit", "--args", "--in", "--at", "--count", "--from", "--tz",
                     "--all-dead", "--priority", "-v", "-vv", "--", "-x", "--config", "--json=1", "--limit=3"]
        let values = ["-1", "0", "1", "3", "99999999999999999999", "{", "{}", "[]", "{\"n\": 1}", "null", "\"s\"", "nan", "1e300s",
                      "5 parsecs", "2026-13-45T25:61:00Z", "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "😀", "running", "dead",
                      "Europe/Nowhere", "* * * * *", "*/0 * * * *", "@every 0s", "ok", "uniq", "", " ", "ok\tx",
                      String(repeating: "x", count: 100_000), Self.deepArray, Self.deepObject, "/nonexistent/crescent.toml"]
        var launches = 0, succeeded = 0, failed = 0, enqueued = 0
        let fixed: [[String]] = [["enqueue", "ok"], ["enqueue", "uniq", "--args", "{\"k\": 1}"], ["enqueue", "uniq", "--args", "{\"k\": 1}", "--json"],
                                 ["enqueue", "ok", "--in", "1h", "--priority=-3"], ["jobs", "--json"], ["status", "--json"], ["tasks"]]
        for i in 0..<75 {
            var args = i < fixed.count ? fixed[i] : [rng.pick(commands)].filter { !$0.isEmpty }
            if i < fixed.count {
                let (process, r) = try launch(p, args)
                launches += 1
                expectClean(process, r, "crescent \(args)")
                #expect(r.code == 0, "\(args): \(r.stderr)")
                succeeded += 1
                if args.first == "enqueue" && !(r.json?["duplicate"] == .bool(true)) && !r.stdout.contains("duplicate") { enqueued += 1 }
                continue
            }
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                if !rng.chance(3) { args.append(rng.pick(flags)) }
                args.append(rng.pick(values))
            }
            if args.first == "next" && args.contains("--count") { args.removeAll { $0 == "--count" } }  // no huge listings
            let (process, r) = try launch(p, args, config: !rng.chance(8))
            launches += 1
            expectClean(process, r, "crescent \(args.map { String($0.prefix(40)) })")
            if r.code == 0 { succeeded += 1 } else { failed += 1 }
            if args.first == "enqueue", r.code == 0 {
                let duplicate = r.json.map { $0["duplicate"] == .bool(true) } ?? r.stdout.contains("duplicate")
                if !duplicate { enqueued += 1 }
            }
        }
        let stored = p.sqlInt("SELECT count(*) FROM jobs")
        print("CLI fuzz: \(launches) launches, \(succeeded) exit 0, \(failed) exit 1/2, 0 signals; \(enqueued) enqueued, \(stored) stored")
        #expect(stored == enqueued, "failed commands changed nothing")
        #expect(p.integrityCheck() == "ok")
    }

    @Test func deepAndHugeArgsOnTheCommandLine() throws {
        let p = try Project(config: Self.config, tasks: Self.tasks)
        for deep in [Self.deepArray, Self.deepObject] {
            let r = try p.run(["enqueue", "ok", "--args", deep])
            #expect(r.code == 2)
            #expect(r.stderr.contains("JSON"), "\(r.stderr)")
        }
        // Over the args limit (64 KB of JSON: 120,000 bytes of "é") is refused; under it goes in.
        let over = "{\"s\": \"\(String(repeating: "é", count: 60_000))\"}"
        let refused = try p.run(["enqueue", "ok", "--args", over])
        #expect(refused.code == 2)
        #expect(refused.stderr.contains("more than the 64 KB a job's args may hold"), "\(refused.stderr)")
        let big = "{\"s\": \"\(String(repeating: "é", count: 30_000))\"}"
        let r = try p.run(["enqueue", "ok", "--args", big])
        #expect(r.code == 0, "\(r.stderr)")
        let id = Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(p.sqlInt("SELECT length(json_extract(args, '$.s')) FROM jobs WHERE id = \(id)") == 30_000)
        #expect(p.sqlInt("SELECT count(*) FROM jobs") == 1)
    }

    // MARK: task files and configs

    @Test func randomTaskFilesThroughCheck() throws {
        var rng = Rng(state: 0x7A5C_0005)
        let pieces = ["return {", "}", "handler = function(job)", "end", "queue = 'q',", "ttl = '1s',", "schedule = '* * * * *',",
                      "retry = { attempts = 2 },", "error('x')", "return 1", "local x = ", "nil", "\0", "\u{FFFD}", "--", "[[", "'", "\"",
                      "while true do end", "string.rep('x', 1e9)", "name = 'dup',", "unique = true,", "(", ")", ",", "=", "\n"]
        var launches = 0, files = 0, reported = 0
        for round in 0..<12 {
            let p = try Project(config: Self.config)
            var names: [String] = []
            for i in 0..<8 {
                var bytes: [UInt8] = []
                for _ in 0..<Int.random(in: 0...14, using: &rng) { bytes += Array(rng.pick(pieces).utf8) + [0x20] }
                if rng.chance(3) { bytes.insert(contentsOf: [0xFF, 0xC3, 0x28, 0x00], at: Int.random(in: 0...bytes.count, using: &rng)) }
                let name = "r\(round)_\(i).lua"
                try FileManager.default.createDirectory(at: p.dir.appendingPathComponent("tasks"), withIntermediateDirectories: true)
                try Data(bytes).write(to: p.dir.appendingPathComponent("tasks/\(name)"))
                names.append(name)
            }
            let (process, r) = try launch(p, ["check"])
            launches += 1
            files += names.count
            expectClean(process, r, "check round \(round)")
            #expect(r.code == 0 || r.code == 1)
            let listed = names.filter { r.stdout.contains("tasks/\($0)") }
            reported += listed.count
            if r.code == 1 { #expect(!listed.isEmpty, "check names the broken files: \(r.stdout.prefix(500))") }
            let tasks = try launch(p, ["tasks", "--json"])
            expectClean(tasks.0, tasks.1, "tasks round \(round)")
        }
        print("task file fuzz (binary): \(launches) check launches, \(files) files, \(reported) reported broken, 0 signals")
    }

    @Test func randomConfigsAreRefusedWithExitTwo() throws {
        var rng = Rng(state: 0xC0F_0006)
        let lines = ["database = \"jobs.db\"", "durability = \"sometimes\"", "[workers]", "threads = 0", "threads = 2", "lease = \"0.5s\"",
                     "memory = \"1e300GB\"", "memory = \"infMB\"", "[[queues]]", "name = \"\"", "concurrency = -3", "[http]",
                     "listen = \"0.0.0.0:1\"", "listen = \":\"", "password = \"${NOT_SET_ANYWHERE}\"", "[log]", "level = \"loud\"",
                     "[retention]", "succeeded = \"-1s\"", "[env]", "A = [1, 2]", "[=", "[", "[é]", "\u{0}", "x = ", "\"\"\"",
                     "[workers]\nthreads = 1", "junk"]
        var launches = 0, refused = 0
        for round in 0..<24 {
            var text = (0..<Int.random(in: 1...6, using: &rng)).map { _ in rng.pick(lines) }.joined(separator: "\n")
            if round == 0 { text = "[=" }  // once aborted the TOML parser
            if round == 1 { text = "\u{FEFF}[workers]\r\n[\r\n" }
            let p = try Project(config: text, tasks: Self.tasks)
            let (process, r) = try launch(p, [rng.pick(["check", "jobs", "status", "tasks"])])
            launches += 1
            expectClean(process, r, "config \(text.debugDescription)")
            if r.code == 2 {
                refused += 1
                #expect(r.stderr.contains("crescent.toml"), "the error names the file: \(r.stderr)")
            }
            #expect(!p.storeExists || r.code != 2, "a refused config created no database")
        }
        print("config fuzz (binary): \(launches) launches, \(refused) refused with exit 2, 0 signals")
        #expect(refused > 0)
    }

    // MARK: handler results

    @Test func resultsJSONCannotHoldFailTheAttempt() throws {
        let cases: [(String, String, String)] = [
            ("function", "return function() end", "cannot encode"),
            ("cyclic", "local t = {} t.self = t return t", "cyclic"),
            ("coroutine", "return coroutine.create(function() end)", "cannot encode"),
            ("nan", "return { x = 0/0 }", "NaN"),
            ("inf", "return { x = math.huge }", "infinity"),
            ("boolkey", "return { [true] = 1 }", "boolean key"),
            ("deep", "local t = {} local c = t for i = 1, 1000 do c.n = {} c = c.n end return t", "deeper"),
            ("pushfn", "queue.push('ok', { f = function() end }) return 1", "queue.push"),
        ]
        var tasks = Self.tasks
        for (name, body, _) in cases {
            tasks["r_\(name).lua"] = "return { retry = { attempts = 1 }, handler = function(job) \(body) end }"
        }
        tasks["r_huge.lua"] = "return { retry = { attempts = 1 }, handler = function(job) return string.rep('x', 5000000) end }"
        tasks["r_large.lua"] = "return { retry = { attempts = 1 }, handler = function(job) return string.rep('x', 1000000) end }"
        let p = try Project(config: Self.config, tasks: tasks)
        var ids: [String: Int64] = [:]
        for name in cases.map(\.0) + ["huge", "large"] {
            let r = try p.run(["enqueue", "r_\(name)"])
            ids[name] = Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let (process, run) = try launch(p, ["run", "--limit", "\(cases.count + 2)"])
        #expect(process.terminationReason == .exit && run.code == 0, "\(run.stderr.prefix(500))")
        for (name, _, needle) in cases {
            let job = try #require(try p.run(["job", "\(ids[name] ?? -1)", "--json"]).json)
            #expect(job["state"] == .string("dead"), "\(name)")
            let error = job["error"]?.stringValue ?? ""
            #expect(error.contains(needle), "\(name): \(error)")
            print("  returning \(name): \(error.prefix(160))")
        }
        // A result holds 1 MB of JSON at most: 5 MB fails the attempt, 1,000,000 characters fit.
        let huge = try #require(try p.run(["job", "\(ids["huge"] ?? -1)", "--json"]).json)
        #expect(huge["state"] == .string("dead"))
        #expect(huge["error"]?.stringValue?.contains("more than the 1 MB a result may hold") == true)
        let large = try #require(try p.run(["job", "\(ids["large"] ?? -1)", "--json"]).json)
        #expect(large["state"] == .string("succeeded"))
        #expect(large["result"]?.stringValue?.count == 1_000_000)
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'ok'") == 0, "a failed attempt pushed nothing")
    }

    // MARK: HTTP

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    final class Reply: @unchecked Sendable {
        var status = -1
        var body = Data()
        var failure: String?
    }

    /// One request, waited for (status -1 and `failure` when the connection failed).
    static func request(_ url: URL, method: String, body: Data?, contentType: String? = "application/json") -> Reply {
        var req = URLRequest(url: url)
        req.httpMethod = method
        req.httpBody = body
        req.timeoutInterval = 30
        if let contentType { req.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        return send(req)
    }

    @Test func randomRequestBodies() throws {
        let port = Self.freePort()
        let p = try Project(config: Self.config + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: Self.tasks)
        let runner = try Background(p, ["run"])
        let base = URL(string: "http://127.0.0.1:\(port)")!
        #expect(waitFor(timeout: 60, every: 0.1) { Self.request(base.appendingPathComponent("healthz"), method: "GET", body: nil).status == 200 })

        var rng = Rng(state: 0x4777_0007)
        let valid = [#"{"task": "ok", "args": {"n": 1}}"#, #"{"task": "uniq", "args": {"k": "v"}, "queue": "q", "priority": 3}"#,
                     #"{"task": "ok", "args": [], "delay": "5m"}"#, #"{"task": "ok", "at": "2030-01-01T00:00:00Z"}"#]
        let tokens = ["null", "1e999", "-1", "\"\"", "{}", "[]", "\"nope\"", "\"ok\"", "true", "\"5 parsecs\"", "\"2026-13-01\"",
                      "99999999999999999999", "\"\\ud800\"", "\"\\u0000\"", ",", ":", "{", "}", "[", "]", "\"", "\u{0}"]
        var statuses: [Int: Int] = [:]
        var created = Set<Int64>()
        var sent = 0
        var problems: [String] = []
        func post(_ body: Data, contentType: String? = "application/json") {
            let r = Self.request(base.appendingPathComponent("api/jobs"), method: "POST", body: body, contentType: contentType)
            sent += 1
            statuses[r.status, default: 0] += 1
            if ![201, 400, 404, 413, 415].contains(r.status) {
                problems.append("\(r.status) \(r.failure ?? "") for \(String(decoding: body.prefix(120), as: UTF8.self).debugDescription)")
            }
            if r.status == 201, let v = try? JSONValue.decode(String(decoding: r.body, as: UTF8.self)),
               v["duplicate"] == .bool(false), let id = v["id"]?.intValue {
                created.insert(id)
            }
            if r.status == 400 || r.status == 404 {
                let v = try? JSONValue.decode(String(decoding: r.body, as: UTF8.self))
                if v?["error"]?.stringValue?.isEmpty != false { problems.append("\(r.status) without an error message") }
            }
        }
        for i in 0..<400 {
            var bytes = Array(valid[i % valid.count].utf8)
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                let at = Int.random(in: 0...bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0 where at < bytes.count: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...8, using: &rng)))
                case 1: bytes.insert(contentsOf: Array(rng.pick(tokens).utf8), at: at)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                default: bytes = Array(bytes.prefix(at))
                }
            }
            post(Data(bytes), contentType: rng.chance(10) ? rng.pick([nil, "text/plain", "application/x-www-form-urlencoded"]) : "application/json")
        }
        // Deep nesting, a huge string just under and one over the body limit, and junk.
        post(Data(#"{"task": "ok", "args": \#(Self.deepArray)}"#.utf8))
        post(Data(#"{"task": "ok", "args": \#(Self.deepObject)}"#.utf8))
        post(Data("{\"task\": \"ok\", \"args\": {\"s\": \"\(String(repeating: "x", count: 900_000))\"}}".utf8))
        post(Data("{\"task\": \"ok\", \"args\": {\"s\": \"\(String(repeating: "x", count: 3_000_000))\"}}".utf8))
        post(Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        for path in ["api/jobs?limit=abc&state=zzz", "api/jobs?limit=-1", "api/jobs/99999999999999999999999", "api/jobs/-1",
                     "api/jobs/abc", "api/jobs?task=%00"] {
            let r = Self.request(base.appendingPathComponent("").appendingPathComponent(path), method: "GET", body: nil)
            sent += 1
            if r.status < 200 || r.status >= 500 { problems.append("GET \(path): \(r.status) \(r.failure ?? "")") }
        }
        let health = Self.request(base.appendingPathComponent("healthz"), method: "GET", body: nil).status
        let stillRunning = runner.process.isRunning
        let code = runner.interrupt()
        let stored = p.sqlInt("SELECT count(*) FROM jobs")
        print("HTTP fuzz: \(sent) requests, statuses \(statuses.sorted { $0.key < $1.key }), \(created.count) created, \(stored) stored, runner alive \(stillRunning)")
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(health == 200)
        #expect(stillRunning)
        #expect(code == 0)
        #expect(stored == created.count, "a refused request wrote nothing")
        #expect(mentionsLockErrors(runner.err.text()) == false)
    }
}
