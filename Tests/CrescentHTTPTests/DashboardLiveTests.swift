import CrescentCore
import CrescentRuntime
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import CrescentHTTP

@Suite("Dashboard: live refresh, themes, 404 page, last good version")
struct DashboardLiveTests {
    @Test("Every page marks its refreshable parts and loads /dashboard.js, which the CSP allows and the password guards")
    func liveParts() async throws {
        let f = try HTTPFixture(password: "pw")
        let id = try f.deadJob()
        let auth: HTTPFields = [.accept: "text/html", .authorization: "Bearer pw"]
        try await f.test { client in
            for uri in ["/", "/queues", "/tasks", "/jobs", "/jobs/\(id)", "/dead", "/processes"] {
                let r = try await client.execute(uri: uri, method: .get, headers: auth)
                #expect(r.status == .ok, "\(uri)")
                for part in [#"<div id="content" data-live>"#, #"<nav id="nav" data-live>"#, #"<footer id="footer" class="wrap muted" data-live>"#] {
                    #expect(r.text.contains(part), "\(uri) lacks \(part)")
                }
                let csp = r.headers[.contentSecurityPolicy] ?? ""
                #expect(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'") && !csp.contains("unsafe-eval"), "\(csp)")
            }
            let script = try await client.execute(uri: "/dashboard.js", method: .get, headers: [.authorization: "Bearer pw"])
            #expect(script.status == .ok)
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(script.text.contains("var every = \(DashboardScript.interval * 1000)"))
            #expect(script.text.contains("[data-live]"))
            let refused = try await client.execute(uri: "/dashboard.js", method: .get)
            #expect(refused.status == .unauthorized)
        }
    }

    @Test("The stylesheet follows prefers-color-scheme and lays the navigation out for narrow screens")
    func themes() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let html = try await client.execute(uri: "/", method: .get, headers: browserHeaders).text
            #expect(html.contains(#"<meta name="color-scheme" content="light dark">"#))
            #expect(html.contains("@media (prefers-color-scheme:dark){"))
            #expect(html.contains("@media (max-width:640px){"))
            #expect(html.contains("nav{flex-wrap:wrap"))
        }
    }

    @Test("Unknown routes: an HTML 404 page for a client asking for HTML, JSON otherwise")
    func notFound() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let page = try await client.execute(uri: "/no/such/page", method: .get, headers: browserHeaders)
            #expect(page.status == .notFound)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.text.hasPrefix("<!doctype html>"))
            #expect(page.text.contains("<h1>404 Not Found</h1>"))
            #expect(page.text.contains("no such route"))
            #expect(page.text.contains(#"<nav id="nav" data-live>"#))
            let json = try await client.execute(uri: "/no/such/page", method: .get, headers: [.accept: "application/json"])
            #expect(json.status == .notFound)
            #expect(json.headers[.contentType] == "application/json; charset=utf-8")
            #expect(json.json == .object(["error": .string("no such route")]))
            let plain = try await client.execute(uri: "/no/such/page", method: .get)
            #expect(plain.json?["error"] == .string("no such route"))
            // The API stays JSON even for a browser.
            let api = try await client.execute(uri: "/api/nothing", method: .get, headers: browserHeaders)
            #expect(api.headers[.contentType] == "application/json; charset=utf-8")
        }
    }

    @Test("The tasks page marks a task running its last good version beside its broken file")
    func lastGoodVersion() async throws {
        let f = try HTTPFixture()
        let snap = f.registry.current
        f.registry.install(
            definitions: Array(snap.tasks.values),
            errors: [TaskLoadError(file: "tasks/mail/welcome.lua", line: 4, message: "unexpected symbol near '<eof>'")],
            version: snap.version + 1)
        try await f.test { client in
            let html = try await client.execute(uri: "/tasks", method: .get, headers: browserHeaders).text
            let row = try #require(html.components(separatedBy: "<tr>").first { $0.contains("<strong>mail/welcome</strong>") })
            #expect(row.contains(#"<span class="badge s-retrying">last good version</span>"#))
            #expect(row.contains("its file fails to load now: line 4: unexpected symbol near &#39;&lt;eof&gt;&#39;")
                    || row.contains("its file fails to load now: line 4: unexpected symbol near &#x27;&lt;eof&gt;&#x27;")
                    || row.contains("its file fails to load now: line 4: unexpected symbol near '&lt;eof&gt;'"), "\(row)")
            let other = try #require(html.components(separatedBy: "<tr>").first { $0.contains("<strong>sync</strong>") })
            #expect(!other.contains("last good version"))
        }
    }
}
