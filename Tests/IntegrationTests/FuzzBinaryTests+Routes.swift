import CrescentCore
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Every dashboard and API route, its query parameters (and path ids) fuzzed against the
/// running binary: extreme integers, floats, negatives, empty, garbage and huge strings. The
/// runner must stay up and answer every request with 2xx, 3xx or 4xx, never 5xx.
@Suite(.serialized) struct FuzzRouteTests {
    static let values = ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "99999999999999999999999", "1e300",
                         "-1e300", "1.5", "-1", "0", "", "nan", "inf", "-0", "0x10", "%00", "%ff%fe", "%0a%0d", "abc", "🙂", "<script>",
                         "'%20OR%201=1--", "..%2F..%2Fetc", "dead", "running", "default", "ok", "1000000000", "1000000001",
                         "retried:9223372036854775807", "retried-all:-9223372036854775808", "cancelled:1e300",
                         String(repeating: "9", count: 400), String(repeating: "x", count: 6000)]
    static let names = ["state", "task", "queue", "limit", "offset", "done", "id", "page", "x", ""]

    @Test func queryParametersOfEveryRoute() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: FuzzBinaryTests.config + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: FuzzBinaryTests.tasks)
        #expect(try p.run(["enqueue", "ok"]).code == 0)
        #expect(try p.run(["enqueue", "ok", "--in", "1h"]).code == 0)
        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        let base = "http://127.0.0.1:\(port)"
        #expect(waitFor(timeout: 60, every: 0.1) { FuzzBinaryTests.request(URL(string: base + "/healthz")!, method: "GET", body: nil).status == 200 })

        let getRoutes = ["/", "/queues", "/tasks", "/jobs", "/jobs/{id}", "/dead", "/processes", "/api/jobs", "/api/jobs/{id}",
                         "/api/tasks", "/api/stats", "/metrics", "/healthz"]
        let postRoutes = ["/api/jobs/{id}/retry", "/api/jobs/{id}/cancel", "/jobs/{id}/retry", "/jobs/{id}/cancel", "/dead/retry-all"]
        var rng = FuzzBinaryTests.Rng(state: 0x0FF5_E7)
        var counts: [String: [Int: Int]] = [:]
        var problems: [String] = []
        func send(_ route: String, method: String, fixed: String? = nil, id: String? = nil) {
            var path = route
            if path.contains("{id}") { path = path.replacingOccurrences(of: "{id}", with: id ?? (rng.chance(3) ? "1" : rng.pick(Self.values))) }
            var pairs: [String] = fixed.map { [$0] } ?? []
            if fixed == nil {
                for _ in 0..<Int.random(in: 0...3, using: &rng) { pairs.append("\(rng.pick(Self.names))=\(rng.pick(Self.values))") }
                if rng.chance(6) { pairs.append(rng.pick(Self.values)) }
            }
            let text = base + path + (pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&"))
            guard let url = URL(string: text) else { counts[route, default: [:]][0, default: 0] += 1; return }
            var req = URLRequest(url: url)
            req.httpMethod = method
            req.timeoutInterval = 30
            if method == "POST" { req.setValue("application/json", forHTTPHeaderField: "Content-Type"); req.httpBody = Data("{}".utf8) }
            let r = FuzzBinaryTests.send(req)
            counts[route, default: [:]][r.status, default: 0] += 1
            if !(200..<500).contains(r.status) { problems.append("\(method) \(String(text.prefix(160))): \(r.status) \(r.failure ?? "")") }
        }
        // Every parameter name with every value on every route, then random mixtures.
        for route in getRoutes {
            for name in Self.names.prefix(6) { for value in Self.values { send(route, method: "GET", fixed: "\(name)=\(value)", id: "1") } }
            if route.contains("{id}") { for value in Self.values { send(route, method: "GET", fixed: "", id: value) } }
            for _ in 0..<30 { send(route, method: "GET") }
        }
        for route in postRoutes { for _ in 0..<12 { send(route, method: "POST") } }
        let alive = runner.process.isRunning
        let total = counts.values.reduce(0) { $0 + $1.values.reduce(0, +) }
        print("route fuzz: \(total) requests, runner alive \(alive)")
        for route in getRoutes + postRoutes {
            let byStatus = (counts[route] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " ")
            print("  \(route): \((counts[route] ?? [:]).values.reduce(0, +)) requests, \(byStatus)")
        }
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(alive, "the runner died: \(runner.err.text().suffix(400))")
        #expect(FuzzBinaryTests.request(URL(string: base + "/healthz")!, method: "GET", body: nil).status == 200)
        let code = runner.interrupt()
        #expect(runner.process.terminationReason == .exit, "the runner ended by a signal")
        #expect(code == 0)
    }
}

extension FuzzBinaryTests {
    /// One prepared request, waited for (status -1 and `failure` when the connection failed).
    static func send(_ req: URLRequest) -> Reply {
        let reply = Reply()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: req) { data, response, error in
            reply.status = (response as? HTTPURLResponse)?.statusCode ?? -1
            reply.body = data ?? Data()
            reply.failure = error.map { "\($0)" }
            done.signal()
        }.resume()
        done.wait()
        return reply
    }
}
