import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// A local HTTP peer: Python's http.server on 127.0.0.1 with a free port.
final class LocalServer: @unchecked Sendable {
    let process = Process()
    let port: Int
    let script: URL

    static let source = #"""
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        if self.path.startswith("/slow"):
            time.sleep(3)
        code = 404 if self.path == "/missing" else 200
        out = json.dumps({"method": self.command, "path": self.path, "body": body,
                          "ctype": self.headers.get("Content-Type"), "token": self.headers.get("X-Token")}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Multi", "a")
        self.send_header("X-Multi", "b")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any
    def log_message(self, *args):
        pass
import os, signal, threading
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
parent = os.getppid()
def watch_parent():
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=watch_parent, daemon=True).start()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"""#

    init() throws {
        script = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-http-\(UUID().uuidString).py")
        try Self.source.write(to: script, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = pipe.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)) else {
            process.terminate()
            throw CrescentError.failed("the local HTTP server did not start")
        }
        port = p
    }

    deinit {
        // SIGKILL: the test process may have SIGTERM blocked, and children inherit that mask.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: script)
    }
}

@Suite(.serialized) struct HTTPAPITests {
    private func value(_ r: ExecResult?) -> JSONValue? {
        guard case .succeeded(let json)? = r?.outcome else { return nil }
        return try? JSONValue.decode(json)
    }

    @Test func requestsAndResponses() throws {
        let server = try LocalServer()
        let base = "http://127.0.0.1:\(server.port)"
        let fx = try Fixture(["t.lua": task("""
            local base = env.BASE
            local g = http.get(base .. "/items?x=1", { headers = { ["X-Token"] = "abc" } })
            local p = http.post(base .. "/post", { name = "ada" })
            local s = http.put(base .. "/put", "raw text", { headers = { ["Content-Type"] = "text/plain" } })
            local d = http.delete(base .. "/del")
            local r = http.request{ method = "patch", url = base .. "/patch", json = { a = 1 } }
            local m = http.get(base .. "/missing")
            return {
              status = g.status, path = g:json().path, token = g:json().token, multi = g.headers["x-multi"],
              post = p:json(), put = s:json(), del = d:json().method, patch = r:json(), missing = m.status,
            }
            """)])
        let (worker, _) = try fx.worker(env: ["BASE": base])
        defer { worker.shutdown() }
        let r = run(worker, makeJob(task: "t"))
        let v = try #require(value(r), "\(String(describing: r?.outcome))")
        #expect(v["status"] == .int(200))
        #expect(v["path"] == .string("/items?x=1"))
        #expect(v["token"] == .string("abc"))
        #expect(v["multi"] == .string("a, b"))
        #expect(v["post"]?["method"] == .string("POST"))
        #expect(v["post"]?["body"] == .string(#"{"name":"ada"}"#))
        #expect(v["post"]?["ctype"] == .string("application/json"))
        #expect(v["put"]?["body"] == .string("raw text"))
        #expect(v["put"]?["ctype"] == .string("text/plain"))
        #expect(v["del"] == .string("DELETE"))
        #expect(v["patch"]?["method"] == .string("PATCH"))
        #expect(v["patch"]?["body"] == .string(#"{"a":1}"#))
        #expect(v["missing"] == .int(404))
    }

    @Test func errorsNameMethodAndURL() throws {
        let server = try LocalServer()
        let fx = try Fixture(["t.lua": task("""
            local t0 = now()
            local ok1, e1 = pcall(http.get, "http://127.0.0.1:1/x")
            local t1 = now()
            local ok2, e2 = pcall(http.get, env.BASE .. "/slow", { timeout = "200ms" })
            log.info("http error timings", { refused = t1 - t0, timeout = now() - t1 })
            local ok3, e3 = pcall(http.request, { url = "http://x", colour = 1 })
            return { e1 = e1, e2 = e2, e3 = e3 }
            """), "raise.lua": task("http.get('http://127.0.0.1:1/x')")])
        let logs = LogCapture()
        let (worker, _) = try fx.worker(env: ["BASE": "http://127.0.0.1:\(server.port)"], logs: logs)
        defer { worker.shutdown() }
        let r = run(worker, makeJob(task: "t"))
        if let timings = logs.entries.first(where: { $0.message == "http error timings" }) {
            print("http error timings: \(timings.metadata)")
        }
        let v = try #require(value(r), "\(String(describing: r?.outcome))")
        #expect(v["e1"]?.stringValue?.contains("GET http://127.0.0.1:1/x failed: connection refused") == true, "\(String(describing: v["e1"]))")
        #expect(v["e2"]?.stringValue?.contains("GET http://127.0.0.1:\(server.port)/slow failed: timed out") == true, "\(String(describing: v["e2"]))")
        #expect(v["e3"]?.stringValue?.contains("unknown option \"colour\"") == true)
        guard case .failed(let message, _)? = run(worker, makeJob(task: "raise"))?.outcome else {
            Issue.record("expected failure"); return
        }
        #expect(message.hasPrefix("tasks/raise.lua:4: GET http://127.0.0.1:1/x failed"))
    }

    @Test func requestsOverlapOnOneVM() throws {
        let server = try LocalServer()
        let fx = try Fixture(["t.lua": task("return http.get(env.BASE .. '/n/' .. job.id).status")])
        let (worker, _) = try fx.worker(env: ["BASE": "http://127.0.0.1:\(server.port)"])
        defer { worker.shutdown() }
        let results = Results()
        for i in 1...50 { worker.submit(ExecRequest(job: makeJob(Int64(i), task: "t"), ttl: 30), completion: results.completion) }
        #expect(results.wait(for: 50))
        #expect((1...50).allSatisfy { results[Int64($0)]?.outcome == .succeeded(result: "200") })
    }
}
