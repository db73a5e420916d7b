import CrescentCore
import Foundation
import Testing

/// schemathesis (from PyPI, in a venv under /tmp) against a live `crescent run` with a
/// password: it reads `/api/openapi.json` from the server and sends a bounded number of
/// generated requests per operation. It must find no 5xx, no response the document does not
/// describe, and no route that answers without the password. Skipped, with the reason
/// printed, when pip cannot install it.
@Suite(.serialized) struct SchemathesisTests {
    static let password = "fuzz-Pa55word"
    static let tasks = [
        "ok.lua": "return { handler = function(job) return { ok = true, n = job.args.n } end }",
        "fail.lua": "return { retry = { attempts = 1 }, handler = function(job) error(\"northstar answered 503\") end }",
        "slow.lua": "return { handler = function(job) sleep(\"30s\") end }",
        "broken.lua": "return { scheduel = \"*/5 * * * *\", handler = function(job) end }",
    ]

    @Test("schemathesis: no 5xx, no response outside the OpenAPI document, no route open without the password")
    func fuzzLiveServer() throws {
        guard let st = Schemathesis.executable() else { return }
        let port = FuzzBinaryTests.freePort()
        let config = Project.quietConfig + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\npassword = \"\(Self.password)\"\n"
        let p = try Project(config: config, tasks: Self.tasks)
        for n in 1...3 { #expect(try p.run(["enqueue", "ok", "--args", "{\"n\":\(n)}"]).code == 0) }
        #expect(try p.run(["enqueue", "fail"]).code == 0)
        #expect(try p.run(["enqueue", "slow"]).code == 0)
        #expect(try p.run(["enqueue", "ok", "--in", "1h"]).code == 0)
        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        let base = "http://127.0.0.1:\(port)"
        #expect(waitFor(timeout: 60, every: 0.1) { Self.status(base + "/healthz", auth: false) == 200 })
        #expect(waitFor(timeout: 30, every: 0.1) { Self.status(base + "/api/jobs?state=dead", auth: true) == 200 })

        // Our own check first: every documented route refuses a request without the password.
        let doc = try #require(try? JSONValue.decode(Self.get(base + "/api/openapi.json", auth: true)))
        guard case .object(let paths)? = doc["paths"] else { Issue.record("the served document has no paths"); return }
        #expect(paths.count >= 15)
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for method in methods.keys {
                let url = base + path.replacingOccurrences(of: "{id}", with: "1")
                let expected = path == "/healthz" ? 200 : 401
                #expect(Self.status(url, method: method.uppercased(), auth: false) == expected, "\(method) \(path) without the password")
            }
        }

        let examples = ProcessInfo.processInfo.environment["CRESCENT_SCHEMATHESIS_EXAMPLES"] ?? "25"
        let seed = ProcessInfo.processInfo.environment["CRESCENT_SCHEMATHESIS_SEED"] ?? "17"
        let args = [
            "run", base + "/api/openapi.json", "--header", "Authorization: Bearer \(Self.password)",
            "--checks", "all", "--max-examples", examples, "--seed", seed,
            "--phases", "examples,coverage,fuzzing,stateful", "--workers", "2", "--request-timeout", "30",
            // Stopping the server under test would end the run: it finds the process id (in
            // /api/stats) and the route works as documented.
            "--exclude-operation-id", "stopProcess",
        ]
        let started = Date()
        // schemathesis keeps a cache in its working folder: one under /tmp, not the package.
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-schemathesis-run").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let result = Schemathesis.run(st, args, timeout: 300, directory: work)
        let lines = result.output.split(separator: "\n").map(String.init)
        let cases = lines.first { $0.contains(" generated, ") } ?? "(no test-case count)"
        let summary = lines.last { $0.hasPrefix("===") } ?? "(no summary line)"
        print("schemathesis (\(examples) examples per operation, seed \(seed), \(Int(Date().timeIntervalSince(started))) s):\(cases)\n\(summary)")
        #expect(result.code == 0, "schemathesis exited \(result.code):\n\(result.output.suffix(6000))")
        #expect(!result.output.contains("Server error"), "\(result.output.suffix(4000))")
        #expect(summary.contains(" passed") || summary.contains(" in "), "\(summary)")
        #expect(runner.process.isRunning, "the runner died: \(runner.err.text().suffix(800))")
        #expect(Self.status(base + "/healthz", auth: false) == 200)
        #expect(runner.interrupt() == 0)
    }

    // MARK: requests

    /// One request through curl (URLSession on Linux does not hand back a 401 that carries a
    /// Basic challenge reliably).
    static func request(_ url: String, method: String = "GET", auth: Bool) -> (status: Int, body: String) {
        var args = ["-sS", "-m", "30", "-X", method, "-w", "\n%{http_code}"]
        if auth { args += ["-H", "Authorization: Bearer \(password)"] }
        if method == "POST" { args += ["-H", "Content-Type: application/json", "--data", "{}"] }
        let r = Schemathesis.run("/usr/bin/curl", args + [url], timeout: 40)
        guard let cut = r.output.lastIndex(of: "\n") else { return (-1, r.output) }
        return (Int(r.output[r.output.index(after: cut)...]) ?? -1, String(r.output[..<cut]))
    }

    static func status(_ url: String, method: String = "GET", auth: Bool) -> Int { request(url, method: method, auth: auth).status }
    static func get(_ url: String, auth: Bool) -> String { request(url, auth: auth).body }
}

/// Finds schemathesis's `st`, installing it from PyPI into a venv under /tmp when missing.
enum Schemathesis {
    static let venv = "/tmp/crescent-schemathesis"
    /// Versions whose command line this test speaks.
    static let requirement = "schemathesis>=4.3,<5"

    static func executable() -> String? {
        if let given = ProcessInfo.processInfo.environment["CRESCENT_SCHEMATHESIS"], !given.isEmpty { return given }
        let st = venv + "/bin/st"
        if FileManager.default.isExecutableFile(atPath: st), run(st, ["--version"], timeout: 60).code == 0 { return st }
        print("schemathesis: installing \(requirement) from PyPI into \(venv)")
        let made = run("/usr/bin/env", ["python3", "-m", "venv", venv], timeout: 120)
        guard made.code == 0 else {
            print("skipped: python3 -m venv \(venv) failed: \(made.output.suffix(400))")
            return nil
        }
        let pip = run(venv + "/bin/pip", ["install", "--quiet", "--disable-pip-version-check", requirement], timeout: 600)
        guard pip.code == 0, FileManager.default.isExecutableFile(atPath: st) else {
            print("skipped: pip could not install \(requirement): \(pip.output.suffix(600))")
            return nil
        }
        return st
    }

    /// Runs a program to completion (killed after `timeout` seconds), stdout and stderr together.
    static func run(_ program: String, _ args: [String], timeout: Double, directory: String? = nil) -> (code: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env["PYTHONIOENCODING"] = "utf-8"
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        do { try p.run() } catch { return (-1, "cannot start \(program): \(error)") }
        let out = ReadAll(pipe)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return (p.terminationStatus, out.text())
    }
}
