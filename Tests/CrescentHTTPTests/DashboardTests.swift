import CrescentCore
import CrescentStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import CrescentHTTP

@Suite("Dashboard")
struct DashboardTests {
    func page(_ client: any TestClientProtocol, _ uri: String) async throws -> String {
        let r = try await client.execute(uri: uri, method: .get, headers: browserHeaders)
        #expect(r.status == .ok, "\(uri): \(r.status)")
        #expect(r.headers[.contentType] == "text/html; charset=utf-8", "\(uri)")
        #expect(r.text.hasPrefix("<!doctype html>"), "\(uri)")
        // Complete without JavaScript: the one script is the external refresher, nothing inline.
        #expect(r.text.components(separatedBy: "<script").count == 2, "\(uri) must work without JavaScript")
        #expect(r.text.contains(#"<script src="/dashboard.js" defer></script>"#), "\(uri)")
        return r.text
    }

    @Test("Overview: counts per state, finished runs, the per-minute chart, queues and next fires")
    func overview() async throws {
        let f = try HTTPFixture()
        try f.succeededJob()
        try f.deadJob()
        try f.insert("sync", queue: "critical")
        try f.store.processRegister(WorkerProcess(id: "host:1:abc", host: "host", pid: 1, queues: [], startedAt: Date(), heartbeatAt: Date(), busy: 2))
        try await f.test { client in
            let html = try await page(client, "/")
            #expect(html.contains("<title>Overview · Crescent</title>"))
            #expect(html.contains(#"href="/jobs?state=dead""#))
            #expect(html.contains("<svg"))
            #expect(html.contains("1 succeeded, 0 failed") || html.contains("1 succeeded, 1 failed"))
            #expect(html.contains("Runs finished per minute"))
            #expect(html.contains(#"<a href="/jobs?queue=critical">critical</a>"#))
            #expect(html.contains("report/daily"), "next fires list the scheduled task")
            #expect(html.contains("1 task file failed to load"))
            #expect(html.contains("2<span class=\"sub\"> busy") || html.contains("· 2 busy"))
            // The Dead nav entry carries the count of dead jobs.
            #expect(html.contains(#"Dead <span class="count">1</span>"#))
        }
    }

    @Test("Queues page lists declared queues in priority order with their concurrency")
    func queues() async throws {
        let f = try HTTPFixture()
        try f.insert("mail/welcome", queue: "bulk")
        try await f.test { client in
            let html = try await page(client, "/queues")
            let critical = try #require(html.range(of: ">critical</a>"))
            let def = try #require(html.range(of: ">default</a>"))
            let bulk = try #require(html.range(of: ">bulk</a>"))
            #expect(critical.lowerBound < def.lowerBound && def.lowerBound < bulk.lowerBound)
            #expect(html.contains("undeclared"))
            #expect(html.contains(#"<td class="num">10</td>"#))
            #expect(html.contains(#"href="/jobs?queue=bulk&state=queued""#) || html.contains(#"href="/jobs?queue=bulk&amp;state=queued""#))
        }
    }

    @Test("Tasks page shows schedules, next fires and load errors")
    func tasks() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let html = try await page(client, "/tasks")
            #expect(html.contains("<code>0 8 * * *</code>"))
            #expect(html.contains("Load errors"))
            #expect(html.contains("tasks/broken.lua:3"))
            #expect(html.contains("unknown field &quot;scheduel&quot;") || html.contains("unknown field &#34;scheduel&#34;"))
            #expect(html.contains("mail/welcome"))
            #expect(html.contains("3 attempts, exponential from 15s"))
            #expect(html.contains("args"), "the unique policy of sync is shown")
        }
    }

    @Test("Jobs page filters by state, task and queue and pages through results")
    func jobs() async throws {
        let f = try HTTPFixture()
        for _ in 0..<(HTTPServer.pageSize + 5) { try f.insert("mail/welcome") }
        let syncID = try f.insert("sync", queue: "critical")
        try await f.test { client in
            let all = try await page(client, "/jobs")
            #expect(all.contains("1–50 of 56"))
            #expect(all.contains(#"href="/jobs?offset=50""#))
            let second = try await page(client, "/jobs?offset=50")
            #expect(second.contains("51–56 of 56"))
            #expect(second.contains("← newer"))

            let filtered = try await page(client, "/jobs?task=sync&state=&queue=")
            #expect(filtered.contains("1–1 of 1"))
            #expect(filtered.contains(#"<a href="/jobs/\#(syncID)">\#(syncID)</a>"#))
            #expect(filtered.contains(#"<option value="sync" selected>"#))

            let byQueue = try await page(client, "/jobs?queue=critical&state=queued")
            #expect(byQueue.contains("1–1 of 1"))
            let none = try await page(client, "/jobs?state=dead")
            #expect(none.contains("No jobs match."))

            let bad = try await client.execute(uri: "/jobs?state=zombie", method: .get, headers: browserHeaders)
            #expect(bad.status == .badRequest)
            #expect(bad.text.contains("unknown state"))
        }
    }

    @Test("Job page shows args, runs, errors and tracebacks, escaping what jobs contain")
    func job() async throws {
        let f = try HTTPFixture()
        let id = try f.deadJob(error: "boom <script>alert(1)</script>", args: #"{"name":"<b>x</b>"}"#)
        try await f.test { client in
            let html = try await page(client, "/jobs/\(id)")
            #expect(html.contains("Job \(id)"))
            #expect(html.contains(#"<span class="badge s-dead">dead</span>"#))
            #expect(html.contains("boom &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!html.contains("<script>alert"))
            #expect(html.contains("&lt;b&gt;x&lt;/b&gt;"))
            #expect(html.contains("<summary>Traceback</summary>"))
            #expect(html.contains("tasks/mail/welcome.lua:7"))
            #expect(html.contains(#"action="/jobs/\#(id)/retry""#))
            #expect(!html.contains(#"action="/jobs/\#(id)/cancel""#))

            let missing = try await client.execute(uri: "/jobs/987654", method: .get, headers: browserHeaders)
            #expect(missing.status == .notFound)
            #expect(missing.text.contains("job 987654 does not exist"))
            #expect(missing.headers[.contentType] == "text/html; charset=utf-8")
        }
    }

    @Test("Dead jobs page lists dead jobs with retry buttons and a retry-all form")
    func dead() async throws {
        let f = try HTTPFixture()
        let a = try f.deadJob()
        let b = try f.deadJob(error: "second failure")
        try await f.test { client in
            let html = try await page(client, "/dead")
            #expect(html.contains(#"action="/jobs/\#(a)/retry""#))
            #expect(html.contains(#"action="/jobs/\#(b)/retry""#))
            #expect(html.contains(#"action="/dead/retry-all""#))
            #expect(html.contains("Retry all 2 dead jobs"))
            #expect(html.contains("second failure"))
        }
    }

    @Test("Processes page lists run processes with their busy counts")
    func processes() async throws {
        let f = try HTTPFixture()
        try f.store.processRegister(WorkerProcess(id: "web-1:4242:x1", host: "web-1", pid: 4242, queues: ["critical", "default"],
                                                  startedAt: Date().addingTimeInterval(-3600), heartbeatAt: Date(), busy: 17))
        try await f.test { client in
            let html = try await page(client, "/processes")
            #expect(html.contains("web-1:4242:x1"))
            #expect(html.contains("<td>web-1</td>"), "the process's host")
            #expect(html.contains("<code>sqlite " + f.dir.appendingPathComponent("crescent.db").path + "</code>"), "the store in use")
            #expect(html.contains("<strong>17</strong>"))
            #expect(html.contains("critical, default"))
            #expect(!html.contains("stale"))
        }
        // A process silent for longer than the lease is marked.
        try f.store.processRegister(WorkerProcess(id: "web-2:7:x2", host: "web-2", pid: 7, queues: ["default"],
                                                  startedAt: Date().addingTimeInterval(-7200), heartbeatAt: Date().addingTimeInterval(-3600), busy: 0))
        try await f.test { client in
            let html = try await page(client, "/processes")
            #expect(html.contains("stale"))
        }
    }

    @Test("Retry from the dashboard: a POST without the CSRF token, or from another site, is refused; with it, 303 back")
    func csrf() async throws {
        let f = try HTTPFixture()
        let id = try f.deadJob()
        try await f.test { client in
            let html = try await page(client, "/dead")
            let token = try #require(csrfToken(in: html))
            #expect(token.count == 64)
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

            let missing = try await client.execute(uri: "/jobs/\(id)/retry", method: .post, headers: form, body: body("back=%2Fdead"))
            #expect(missing.status == .forbidden)
            let wrong = try await client.execute(uri: "/jobs/\(id)/retry", method: .post, headers: form,
                                                 body: body("csrf=\(String(repeating: "0", count: 64))&back=%2Fdead"))
            #expect(wrong.status == .forbidden)
            var crossSite = form
            crossSite[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            let fromElsewhere = try await client.execute(uri: "/jobs/\(id)/retry", method: .post, headers: crossSite,
                                                         body: body("csrf=\(token)&back=%2Fdead"))
            #expect(fromElsewhere.status == .forbidden)
            var foreignOrigin = form
            foreignOrigin[.origin] = "https://evil.example"
            let foreign = try await client.execute(uri: "/jobs/\(id)/retry", method: .post, headers: foreignOrigin,
                                                   body: body("csrf=\(token)&back=%2Fdead"))
            #expect(foreign.status == .forbidden)
            #expect(try f.store.jobGet(id: id)?.state == .dead)

            var sameOrigin = form
            sameOrigin[HTTPField.Name("Sec-Fetch-Site")!] = "same-origin"
            let ok = try await client.execute(uri: "/jobs/\(id)/retry", method: .post, headers: sameOrigin,
                                              body: body("csrf=\(token)&back=%2Fdead"))
            #expect(ok.status == .seeOther)
            #expect(ok.headers[.location] == "/dead?done=retried:\(id)")
            #expect(try f.store.jobGet(id: id)?.state == .queued)

            let after = try await page(client, "/dead?done=retried:\(id)")
            #expect(after.contains("Job \(id) was queued again."))

            // An open redirect through `back` is not possible.
            let cancel = try await client.execute(uri: "/jobs/\(id)/cancel", method: .post, headers: form,
                                                  body: body("csrf=\(token)&back=%2F%2Fevil.example%2F"))
            #expect(cancel.status == .seeOther)
            #expect(cancel.headers[.location] == "/jobs/\(id)?done=cancelled:\(id)")
            #expect(try f.store.jobGet(id: id)?.state == .cancelled)
        }
    }

    @Test("Retry all dead jobs from the dashboard")
    func retryAll() async throws {
        let f = try HTTPFixture()
        let a = try f.deadJob()
        let b = try f.deadJob()
        try await f.test { client in
            let token = try #require(csrfToken(in: try await page(client, "/dead")))
            let refused = try await client.execute(uri: "/dead/retry-all", method: .post,
                                                   headers: [.contentType: "application/x-www-form-urlencoded"], body: body(""))
            #expect(refused.status == .forbidden)
            let r = try await client.execute(uri: "/dead/retry-all", method: .post,
                                             headers: [.contentType: "application/x-www-form-urlencoded"], body: body("csrf=\(token)"))
            #expect(r.status == .seeOther)
            #expect(r.headers[.location] == "/dead?done=retried-all:2")
        }
        #expect(try f.store.jobGet(id: a)?.state == .queued)
        #expect(try f.store.jobGet(id: b)?.state == .queued)
        #expect(f.enqueuedCalls.value == 1)
    }

    @Test("Chart scale and time formatting")
    func formatting() {
        #expect(Dashboard.niceCeiling(1) == 4)
        #expect(Dashboard.niceCeiling(5) == 8)
        #expect(Dashboard.niceCeiling(37) == 40)
        #expect(Dashboard.niceCeiling(41) == 60)
        #expect(Dashboard.niceCeiling(900) == 1000)
        #expect(Dashboard.span(42) == "42s")
        #expect(Dashboard.span(125) == "2m 5s")
        #expect(Dashboard.span(7260) == "2h 1m")
        #expect(Dashboard.relative(Date(timeIntervalSinceNow: -90)).hasSuffix("ago"))
        #expect(Dashboard.clock(Date(timeIntervalSince1970: 0)) == "1970-01-01 00:00:00 UTC")
        #expect(Dashboard.pretty(#"{"b":[1,{"c":null}],"a":"x","e":{},"f":[]}"#) == """
            {
              "a": "x",
              "b": [
                1,
                {
                  "c": null
                }
              ],
              "e": {},
              "f": []
            }
            """)
        #expect(Dashboard.pretty("not json") == "not json")
        let minutes = (0..<60).map { RunMinute(start: Date(timeIntervalSince1970: Double($0) * 60), succeeded: $0 % 3, failed: $0 % 5 == 0 ? 1 : 0) }
        let svg = Dashboard.chart(minutes)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        #expect(svg.components(separatedBy: "<title>").count - 1 == 60)
    }
}
