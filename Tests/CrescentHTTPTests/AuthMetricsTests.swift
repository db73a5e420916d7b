import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import NIOPosix
import Testing
@testable import CrescentHTTP

@Suite("HTTP auth, metrics, health and the live server")
struct AuthMetricsTests {
    static func basic(_ user: String, _ password: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()]
    }

    @Test("With a password every route but /healthz needs it: missing, wrong Basic and wrong Bearer get 401")
    func refusals() async throws {
        let f = try HTTPFixture(password: "s3cret")
        try await f.test { client in
            for uri in ["/api/jobs", "/api/stats", "/api/tasks", "/metrics", "/", "/dead", "/jobs/1"] {
                let none = try await client.execute(uri: uri, method: .get)
                #expect(none.status == .unauthorized, "\(uri)")
                #expect(none.headers[.wwwAuthenticate] == "Basic realm=\"crescent\"", "\(uri)")
            }
            let wrongBasic = try await client.execute(uri: "/api/jobs", method: .get, headers: Self.basic("admin", "guess"))
            #expect(wrongBasic.status == .unauthorized)
            let wrongBearer = try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "Bearer s3cre"])
            #expect(wrongBearer.status == .unauthorized)
            let longer = try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "Bearer s3cret!"])
            #expect(longer.status == .unauthorized)
            let garbage = try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "Basic !!!"])
            #expect(garbage.status == .unauthorized)
            let otherScheme = try await client.execute(uri: "/api/jobs", method: .get, headers: [.authorization: "Digest s3cret"])
            #expect(otherScheme.status == .unauthorized)
            // A refused POST changes nothing.
            let post = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders, body: body(#"{"task": "mail/welcome"}"#))
            #expect(post.status == .unauthorized)

            let health = try await client.execute(uri: "/healthz", method: .get)
            #expect(health.status == .ok)
        }
        #expect(try f.store.jobCount(JobListParams()) == 0)
    }

    @Test("The right password passes as Basic with any user name, or as Bearer")
    func accepted() async throws {
        let f = try HTTPFixture(password: "s3cret")
        try await f.test { client in
            let basic = try await client.execute(uri: "/api/jobs", method: .get, headers: Self.basic("anyone", "s3cret"))
            #expect(basic.status == .ok)
            let emptyUser = try await client.execute(uri: "/api/stats", method: .get, headers: Self.basic("", "s3cret"))
            #expect(emptyUser.status == .ok)
            let bearer = try await client.execute(uri: "/", method: .get, headers: [.authorization: "Bearer s3cret"])
            #expect(bearer.status == .ok)
            let lower = try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "bearer s3cret"])
            #expect(lower.status == .ok)
            let post = try await client.execute(uri: "/api/jobs", method: .post,
                                                headers: [.authorization: "Bearer s3cret", .contentType: "application/json"],
                                                body: body(#"{"task": "mail/welcome"}"#))
            #expect(post.status == .created)
        }
    }

    @Test("Without a password nothing asks for one")
    func open() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let api = try await client.execute(uri: "/api/jobs", method: .get)
            #expect(api.status == .ok)
            let dashboard = try await client.execute(uri: "/", method: .get)
            #expect(dashboard.status == .ok)
        }
    }

    @Test("constantTimeEqual compares whole byte strings")
    func constantTime() {
        #expect(constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!constantTimeEqual([], Array("a".utf8)))
        #expect(constantTimeEqual([], []))
        // Lengths that differ by a multiple of 256 must not compare equal.
        #expect(!constantTimeEqual([UInt8](repeating: 0, count: 256), []))
    }

    @Test("GET /healthz is 200 while the database answers and 503 when it does not")
    func health() async throws {
        let ok = try HTTPFixture()
        try await ok.test { client in
            let r = try await client.execute(uri: "/healthz", method: .get)
            #expect(r.status == .ok)
            #expect(r.json?["status"] == .string("ok"))
        }
        struct Down: Error {}
        let down = try HTTPFixture(healthCheck: { throw CrescentError.failed("database is gone") })
        try await down.test { client in
            let r = try await client.execute(uri: "/healthz", method: .get)
            #expect(r.status == .serviceUnavailable)
            #expect(r.json?["error"]?.stringValue?.contains("database is gone") == true)
        }
    }

    @Test("GET /metrics is Prometheus text with the job gauges and the pipeline's metrics")
    func metrics() async throws {
        let f = try HTTPFixture()
        try f.insert()
        try f.insert("sync", queue: "critical")
        CrescentMetrics.jobFinished(task: "mail/welcome", queue: "default", outcome: "succeeded", seconds: 0.042)
        CrescentMetrics.jobFinished(task: "mail/welcome", queue: "default", outcome: "failed", seconds: 3)
        CrescentMetrics.scheduleLag(seconds: 0.2)
        CrescentMetrics.busyWorkers(3)
        try await f.test { client in
            let r = try await client.execute(uri: "/metrics", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = r.text
            #expect(text.contains("# TYPE crescent_jobs gauge"))
            #expect(text.contains(#"crescent_jobs{queue="default",state="queued"} 1"#))
            #expect(text.contains(#"crescent_jobs{queue="critical",state="queued"} 1"#))
            #expect(text.contains(#"crescent_jobs{queue="critical",state="dead"} 0"#))
            #expect(text.contains("# TYPE crescent_jobs_finished_total counter"))
            #expect(text.contains(#"crescent_jobs_finished_total{task="mail/welcome",queue="default",outcome="succeeded"}"#))
            #expect(text.contains(#"crescent_jobs_finished_total{task="mail/welcome",queue="default",outcome="failed"}"#))
            #expect(text.contains("# TYPE crescent_job_duration_seconds histogram"))
            #expect(text.contains(#"crescent_job_duration_seconds_bucket{task="mail/welcome",queue="default",le="0.05"}"#))
            #expect(text.contains(#"le="1800.0""#))
            #expect(text.contains("# TYPE crescent_schedule_lag_seconds histogram"))
            #expect(text.contains("# TYPE crescent_busy_workers gauge"))
            #expect(text.contains("crescent_busy_workers "))
        }
    }

    @Test("start() listens (port 0 picks one), serves real connections, and stop() closes it")
    func liveServer() async throws {
        let f = try HTTPFixture(password: "pw")
        try await f.server.start()
        let port = try #require(f.server.boundPort)
        #expect(port > 0)
        do {
            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let health = try await client.get("/healthz")
                #expect(health.status == .ok)
                let refused = try await client.get("/api/stats")
                #expect(refused.status == .unauthorized)
                let stats = try await client.get("/api/stats", headers: [.authorization: "Bearer pw"])
                #expect(stats.status == .ok)
            }
            // A second server on the same port cannot start, and says why.
            var config = f.server.config
            config.httpListen = ("127.0.0.1", port)
            let other = HTTPServer(config: config, store: f.store, registry: f.registry, enqueuer: f.server.enqueuer,
                                   onEnqueued: {}, logger: f.server.logger)
            await #expect(throws: CrescentError.self) { try await other.start() }
        }
        await f.server.stop()
        #expect(f.server.boundPort == nil)
        // Nothing listens there any more.
        await #expect(throws: (any Error).self) {
            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in _ = try await client.get("/healthz") }
        }
    }
}
