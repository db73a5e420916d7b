import CrescentCore
import CrescentStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import CrescentHTTP

/// The processes page and `/api/stats` with a live process (version, memory, busy out of
/// capacity, buttons) and a lost one (no buttons; the jobs rescued from it, linked).
@Suite("Dashboard: processes page")
struct ProcessesPageTests {
    @Test func liveAndLostProcesses() async throws {
        let f = try HTTPFixture()
        let start = Date().addingTimeInterval(-600)
        try f.store.processRegister(WorkerProcess(id: "web-1:10:a", host: "web-1", pid: 10, queues: ["default"], startedAt: start,
                                                  heartbeatAt: Date(), busy: 3, version: "9.8.7", capacity: 20, rssBytes: 42_149_000))
        try f.store.processRegister(WorkerProcess(id: "web-2:20:b", host: "web-2", pid: 20, queues: ["default"], startedAt: start,
                                                  heartbeatAt: start, version: "9.8.6", capacity: 5))
        let a = try f.insert(), b = try f.insert()
        for _ in 0..<2 { _ = try f.claim(worker: "web-2:20:b") }
        let beat = try #require(try f.store.leaseView().heartbeats["web-2:20:b"])
        #expect(try f.store.jobRescue(stale: ["web-2:20:b": beat]) { _ in Date() } == [a, b])

        try await f.test { client in
            let r = try await client.execute(uri: "/processes", method: .get, headers: browserHeaders)
            #expect(r.status == .ok)
            let html = r.text
            #expect(html.contains("<strong>3</strong> / 20"), "busy beside capacity")
            #expect(html.contains("<td>9.8.7</td>"))
            #expect(html.contains(">42.1 MB</span>"), "RSS as people read it")
            #expect(html.contains("action=\"/processes/web-1:10:a/stop\""))
            let lost = try #require(html.range(of: "<h2>Lost</h2>").map { String(html[$0.lowerBound...]) }, "\(html)")
            #expect(lost.contains("web-2:20:b") && lost.contains("<strong>2</strong>"))
            #expect(lost.contains("<a href=\"/jobs/\(a)\">\(a)</a>") && lost.contains("<a href=\"/jobs/\(b)\">\(b)</a>"))
            #expect(!html.contains("action=\"/processes/web-2:20:b/") && !lost.contains("<form"), "no buttons for a lost process")

            let api = try await client.execute(uri: "/api/stats", method: .get)
            guard case .array(let procs)? = try JSONValue.decode(api.text)["processes"], procs.count == 2 else {
                Issue.record("two processes in \(api.text)")
                return
            }
            #expect(procs.map { $0["id"]?.stringValue } == ["web-1:10:a", "web-2:20:b"])
            #expect(procs[0]["capacity"] == .int(20) && procs[0]["rss_bytes"] == .int(42_149_000) && procs[0]["version"] == .string("9.8.7"))
            #expect(procs[0]["lost"] == .bool(false) && procs[0]["lost_at"] == .null)
            #expect(procs[1]["lost"] == .bool(true) && procs[1]["lost_at"]?.stringValue != nil)
            #expect(procs[1]["rescued_count"] == .int(2) && procs[1]["rescued_jobs"] == .array([.int(a), .int(b)]))
            #expect(procs[1]["rss_bytes"] == .null, "unknown memory")
            #expect(try JSONValue.decode(api.text)["tasks_versions"] == .array([.string("")]), "from the live processes")
        }
    }
}
