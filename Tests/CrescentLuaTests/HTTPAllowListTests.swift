import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// Handlers reach only http and https URLs, and with `[http_client] allow_hosts` only the
/// hosts (and resolved addresses) it allows.
@Suite(.serialized) struct HTTPAllowListTests {
    private func value(_ r: ExecResult?) -> JSONValue? {
        guard case .succeeded(let json)? = r?.outcome else { return nil }
        return try? JSONValue.decode(json)
    }

    /// Runs `http.get(url)` in a handler and returns the status, or the error message.
    private func outcomes(_ urls: [String], allowHosts: HTTPAllowList? = nil) throws -> [String] {
        let fx = try Fixture(["t.lua": task("""
            local out = {}
            for i, url in ipairs(job.args.urls) do
              local ok, res = pcall(http.get, url, { timeout = "3s" })
              out[i] = ok and tostring(res.status) or tostring(res)
            end
            return out
            """)])
        let (worker, _) = try fx.worker(allowHosts: allowHosts)
        defer { worker.shutdown() }
        let args = JSONValue.object(["urls": .array(urls.map { .string($0) })]).encoded()
        let r = run(worker, makeJob(task: "t", args: args))
        let v = try #require(value(r), "\(String(describing: r?.outcome))")
        guard case .array(let items) = v else { return [] }
        return items.map { $0.stringValue ?? "\($0)" }
    }

    @Test func onlyHTTPAndHTTPSSchemes() throws {
        let server = try LocalServer()
        // A real Unix-domain socket the refused URLs would reach.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-sock-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socket = dir.appendingPathComponent("d.sock").path
        let unixServer = Process()
        unixServer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        unixServer.arguments = ["python3", "-c", """
            import http.server, socketserver, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
                def address_string(self): return "unix"
            class S(socketserver.UnixStreamServer): pass
            S(sys.argv[1], H).serve_forever()
            """, socket]
        try unixServer.run()
        defer { kill(unixServer.processIdentifier, SIGKILL); unixServer.waitUntilExit() }
        let deadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: socket), Date() < deadline { usleep(20_000) }
        #expect(FileManager.default.fileExists(atPath: socket))
        let encoded = socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let results = try outcomes([
            "http+unix://\(encoded)/containers/json", "unix://\(socket)", "https+unix://\(encoded)/x",
            "file:///etc/passwd", "ftp://127.0.0.1/x", "HTTP://127.0.0.1:\(server.port)/upper", "http://127.0.0.1:\(server.port)/ok",
        ])
        print("scheme outcomes: \(results)")
        #expect(results.count == 7)
        for (i, scheme) in ["http+unix:", "unix:", "https+unix:", "file:", "ftp:"].enumerated() {
            #expect(results[i].contains("refused: only http:// and https:// URLs are allowed, not \"\(scheme)\""), "\(results[i])")
            #expect(!results[i].contains("HTTPClientError"))
        }
        #expect(results[5] == "200")
        #expect(results[6] == "200")
    }

    @Test func allowHostsAgainstALocalServer() throws {
        let server = try LocalServer()
        let ip = "http://127.0.0.1:\(server.port)/x"
        let name = "http://localhost:\(server.port)/x"
        // Listed by address or range: allowed.
        #expect(try outcomes([ip], allowHosts: HTTPAllowList(["127.0.0.1"])) == ["200"])
        #expect(try outcomes([ip], allowHosts: HTTPAllowList(["10.0.0.0/8", "127.0.0.0/8"])) == ["200"])
        // Not listed: refused before connecting.
        let other = try outcomes([ip, name], allowHosts: HTTPAllowList(["api.example.org", "*.internal"]))
        #expect(other[0].contains("refused: host 127.0.0.1 is not in [http_client] allow_hosts"), "\(other[0])")
        #expect(other[1].contains("refused: host localhost is not in [http_client] allow_hosts"), "\(other[1])")
        // A listed name that resolves to a loopback address the list does not name: refused.
        let resolved = try outcomes([name], allowHosts: HTTPAllowList(["localhost"]))
        #expect(resolved[0].contains("refused: localhost resolves to "), "\(resolved[0])")
        #expect(resolved[0].contains("which is not in [http_client] allow_hosts"), "\(resolved[0])")
        // The name and its loopback addresses listed: allowed.
        #expect(try outcomes([name], allowHosts: HTTPAllowList(["LOCALHOST", "127.0.0.0/8", "::1"])) == ["200"])
        // A wildcard matches subdomains only.
        let wild = try outcomes([name], allowHosts: HTTPAllowList(["*.localhost", "127.0.0.0/8", "::1"]))
        #expect(wild[0].contains("host localhost is not in"), "\(wild[0])")
    }

    @Test func entriesAndAddresses() throws {
        let list = try HTTPAllowList(["api.example.org", "*.internal", "10.1.0.0/16", "fd00::/8", "192.0.2.7"])
        #expect(list.allowsHost("API.example.org"))
        #expect(list.allowsHost("api.example.org."))
        #expect(!list.allowsHost("evil-api.example.org"))
        #expect(list.allowsHost("db.internal") && list.allowsHost("a.b.internal"))
        #expect(!list.allowsHost("internal") && !list.allowsHost("xinternal"))
        #expect(list.allowsHost("10.1.2.3") && !list.allowsHost("10.2.0.1"))
        #expect(list.allowsHost("[fd00::1]") && !list.allowsHost("[fe80::1]"))
        #expect(list.allowsHost("::ffff:192.0.2.7"))
        #expect(!list.allowsHost("192.0.2.8"))
        #expect(list.allowsResolved(IPAddress("93.184.216.34")!))
        #expect(list.allowsResolved(IPAddress("10.1.9.9")!))
        for special in ["127.0.0.1", "169.254.169.254", "10.9.0.1", "192.168.1.1", "172.20.0.1", "0.0.0.0", "::1", "fe80::1", "::ffff:127.0.0.1", "::"] {
            #expect(!list.allowsResolved(IPAddress(special)!), "\(special)")
        }
        for bad in ["", "*", "*.", "http://x", "a b", "10.0.0.0/33", "::/129", "x/8", "-a.org", "a..b"] {
            #expect(throws: HTTPAllowListError.self, "\(bad)") { try HTTPAllowList([bad]) }
        }
    }
}
