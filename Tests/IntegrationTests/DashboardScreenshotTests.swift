import CrescentCore
import Foundation
import Testing

/// Every dashboard page of a live `crescent run`, rendered by headless Chromium at 1400 px
/// and 390 px wide, in the light and the dark colour scheme. The screenshots go to
/// /tmp/crescent-screenshots (or CRESCENT_SCREENSHOTS); each must be a PNG of the asked width
/// and more than a blank page, and dark must differ from light. Skipped, with the reason
/// printed, when no Chromium is installed.
@Suite(.serialized) struct DashboardScreenshotTests {
    static let tasks = [
        "ok.lua": "return { handler = function(job) return { ok = true } end }",
        "fail.lua": "return { retry = { attempts = 1 }, handler = function(job) error(\"northstar answered 503\") end }",
        "slow.lua": "return { queue = \"bulk\", handler = function(job) sleep(\"60s\") end }",
        "report.lua": "return { schedule = \"0 8 * * *\", handler = function(job) return { rows = 42 } end }",
        "broken.lua": "return { scheduel = \"*/5 * * * *\", handler = function(job) end }",
    ]

    static func chromium() -> String? {
        if let given = ProcessInfo.processInfo.environment["CHROMIUM"], !given.isEmpty { return given }
        let names = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        for dir in ["/usr/bin", "/usr/local/bin", "/snap/bin"] {
            for name in names where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") { return "\(dir)/\(name)" }
        }
        return nil
    }

    @Test("Every page in headless Chromium: 1400 and 390 px wide, light and dark")
    func screenshots() throws {
        if ProcessInfo.processInfo.environment["CRESCENT_TEST_STORE"] == "postgres" {
            print("skipped on PostgreSQL: the pages look the same on either store (make test's SQLite pass takes the screenshots)")
            return
        }
        guard let browser = Self.chromium() else {
            print("skipped: no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chromium)")
            return
        }
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: Project.quietConfig + "\n[[queues]]\nname = \"default\"\n[[queues]]\nname = \"bulk\"\n[http]\nlisten = \"127.0.0.1:\(port)\"\n",
                            tasks: Self.tasks)
        for _ in 1...4 { #expect(try p.run(["enqueue", "ok"]).code == 0) }
        #expect(try p.run(["enqueue", "fail"]).code == 0)
        #expect(try p.run(["enqueue", "slow"]).code == 0)
        #expect(try p.run(["enqueue", "ok", "--in", "2h"]).code == 0)
        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        let base = "http://127.0.0.1:\(port)"
        func get(_ path: String) -> String { SchemathesisTests.get(base + path, auth: false) }
        #expect(waitFor(timeout: 60, every: 0.1) { SchemathesisTests.status(base + "/healthz", auth: false) == 200 })
        #expect(waitFor(timeout: 30, every: 0.1) {
            (try? JSONValue.decode(get("/api/jobs?state=dead")))?.array.isEmpty == false
                && (try? JSONValue.decode(get("/api/jobs?state=running")))?.array.isEmpty == false
        })
        // Break a loaded task's file: it keeps running its last good version.
        try p.write("tasks/report.lua", "return { schedule = \"0 8 * * *\", handler = function(job) return 1 end\n")
        #expect(waitFor(timeout: 30, every: 0.1) { get("/api/tasks").contains("\"file\":\"tasks/report.lua\"") && get("/api/tasks").contains("\"error\"") })
        let dead = try #require((try? JSONValue.decode(get("/api/jobs?state=dead")))?.array.first?["id"]?.intValue)
        let running = try #require((try? JSONValue.decode(get("/api/jobs?state=running")))?.array.first?["id"]?.intValue)
        let tasksPage = get("/tasks")
        #expect(tasksPage.contains("last good version"), "the tasks page marks report")

        let out = URL(fileURLWithPath: ProcessInfo.processInfo.environment["CRESCENT_SCREENSHOTS"] ?? "/tmp/crescent-screenshots")
        try? FileManager.default.removeItem(at: out)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let pages: [(String, String)] = [
            ("overview", "/"), ("queues", "/queues"), ("tasks", "/tasks"), ("jobs", "/jobs"), ("job-dead", "/jobs/\(dead)"),
            ("job-running", "/jobs/\(running)"), ("dead", "/dead"), ("processes", "/processes"), ("not-found", "/no/such/page"),
        ]
        var shots: [(file: URL, width: Int)] = []
        var jobs: [(name: String, args: [String], file: URL, width: Int)] = []
        for (name, path) in pages {
            for width in [1400, 390] {
                for dark in [false, true] {
                    let file = out.appendingPathComponent("\(name)-\(width)-\(dark ? "dark" : "light").png")
                    var args = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
                                "--user-data-dir=/tmp/crescent-chromium-profile-\(getpid())-\(jobs.count % 2)",
                                "--window-size=\(width),\(width > 1000 ? 900 : 1200)", "--screenshot=\(file.path)"]
                    if dark { args.append("--force-dark-mode") }
                    jobs.append((name, args + [base + path], file, width))
                }
            }
        }
        // Two browsers at a time.
        let group = DispatchGroup()
        let failures = Failures()
        for pair in stride(from: 0, to: jobs.count, by: 2) {
            for job in jobs[pair..<min(pair + 2, jobs.count)] {
                group.enter()
                DispatchQueue.global().async {
                    let r = Schemathesis.run(browser, job.args, timeout: 90)
                    if r.code != 0 { failures.add("\(job.file.lastPathComponent): exit \(r.code) \(r.output.suffix(300))") }
                    group.leave()
                }
            }
            group.wait()
            shots += jobs[pair..<min(pair + 2, jobs.count)].map { ($0.file, $0.width) }
        }
        #expect(failures.list.isEmpty, "\(failures.list)")
        for shot in shots {
            let data = (try? Data(contentsOf: shot.file)) ?? Data()
            let bytes = [UInt8](data)
            #expect(bytes.count > 8000, "\(shot.file.lastPathComponent): \(bytes.count) bytes")
            guard bytes.count > 24 else { continue }
            #expect(bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(shot.file.lastPathComponent) is not a PNG")
            let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }
            #expect(width == shot.width, "\(shot.file.lastPathComponent) is \(width) px wide")
        }
        for shot in shots where shot.file.lastPathComponent.hasSuffix("-light.png") {
            let dark = URL(fileURLWithPath: shot.file.path.replacingOccurrences(of: "-light.png", with: "-dark.png"))
            #expect((try? Data(contentsOf: shot.file)) != (try? Data(contentsOf: dark)), "\(dark.lastPathComponent) looks like its light twin")
        }
        print("screenshots: \(shots.count) in \(out.path)")
        for shot in shots { print("  \(shot.file.lastPathComponent)  \((try? Data(contentsOf: shot.file).count) ?? 0) bytes") }

        // The refresher runs under the page's CSP: it marks the document live.
        let dom = Schemathesis.run(browser, ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=/tmp/crescent-chromium-profile-\(getpid())-dom",
                                             "--virtual-time-budget=8000", "--dump-dom", base + "/"], timeout: 90)
        #expect(dom.output.contains("<html lang=\"en\" class=\"live\">"), "\(dom.output.prefix(600))")
        runner.interrupt()
        for suffix in ["0", "1", "dom"] { try? FileManager.default.removeItem(atPath: "/tmp/crescent-chromium-profile-\(getpid())-\(suffix)") }
    }
}

/// Failures collected from the browsers running side by side.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var list: [String] { lock.withLock { items } }
}
