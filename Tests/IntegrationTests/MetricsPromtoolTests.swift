import CrescentCore
import Foundation
import Testing

/// Issue 16 item 4: `/metrics` of a live `crescent run` is valid Prometheus text.
@Suite(.serialized) struct MetricsPromtoolTests {
    static let tasks = [
        "ok.lua": "return { handler = function(job) end }",
        "boom.lua": "return { retry = { attempts = 1 }, handler = function(job) error(\"boom\") end }",
        "tick.lua": "return { schedule = \"every 1s\", handler = function(job) end }",
    ]

    /// Family name → sample lines, and the names with HELP / TYPE lines.
    struct Exposition {
        var help: Set<String> = []
        var type: [String: String] = [:]
        var samples: [String] = []

        init(_ text: String) {
            for line in text.split(separator: "\n").map(String.init) {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                if line.hasPrefix("# HELP "), parts.count >= 3 { help.insert(parts[2]) }
                else if line.hasPrefix("# TYPE "), parts.count >= 4 { type[parts[2]] = parts[3] }
                else if !line.hasPrefix("#") { samples.append(line) }
            }
        }

        func value(_ series: String) -> Double? {
            samples.first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
    }

    @Test func liveMetricsPassPromtoolAndCarryTheNewFamilies() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: Project.quietConfig + "\n[http]\nlisten = \"127.0.0.1:\(port)\"\n"
                            + "[[queues]]\nname = \"default\"\nconcurrency = 7\n[[queues]]\nname = \"parked\"\nconcurrency = 3\n",
                            tasks: Self.tasks)
        // Served: `default` only, so a job on `parked` waits and its queue has a latency.
        let runner = try OpsRunner(p, ["--queues", "default"])
        let ok = try p.opsEnqueue("ok")
        let boom = try p.opsEnqueue("boom")
        _ = try p.opsEnqueue("ok", ["--queue", "parked"])
        try #require(try p.opsWaitFor(ok, "succeeded") != nil)
        try #require(try p.opsWaitFor(boom, "dead") != nil)

        // Wait until the tick schedule fired once (the lag histogram exists) and the parked job is a second old.
        let text = try #require(opsEventually(20) { () -> String? in
            guard let t = Fit.get(port: port, "/metrics"), t.contains("crescent_schedule_lag_seconds_count"),
                  (Exposition(t).value("crescent_queue_latency_seconds{queue=\"parked\"}") ?? 0) >= 1 else { return nil }
            return t
        }, "metrics never showed a schedule lag and a waiting parked job; stderr: \(runner.stderr)")
        let m = Exposition(text)

        for (name, _) in m.type { #expect(m.help.contains(name), "no # HELP for \(name)") }
        for sample in m.samples {
            let name = String(sample.prefix { $0 != "{" && $0 != " " })
            let family = m.type.keys.first { name == $0 || name == $0 + "_bucket" || name == $0 + "_sum" || name == $0 + "_count" }
            #expect(family != nil, "sample without # TYPE: \(sample)")
        }
        #expect(m.value("crescent_build_info{version=\"\(CrescentVersion.current)\"}") == 1)
        #expect(m.value("crescent_worker_capacity") == 7)
        #expect(m.value("crescent_busy_workers") != nil)
        #expect(m.value("crescent_processes{state=\"alive\"}") == 1)
        #expect(m.value("crescent_processes{state=\"lost\"}") == 0)
        #expect(m.value("crescent_queue_latency_seconds{queue=\"default\"}") == 0)
        #expect(m.value("crescent_jobs_finished_total{task=\"ok\",queue=\"default\",outcome=\"succeeded\"}") == 1)
        #expect(m.value("crescent_jobs_finished_total{task=\"boom\",queue=\"default\",outcome=\"failed\"}") == 1)
        #expect(m.value("crescent_jobs{queue=\"parked\",state=\"queued\"}") == 1)
        #expect(m.type["crescent_queue_latency_seconds"] == "gauge")
        #expect(m.type["crescent_jobs_finished_total"] == "counter")

        guard let promtool = Fit.tool("promtool", package: "prometheus") else { return }
        let check = try Fit.runTool(promtool, ["check", "metrics"], stdin: text)
        print("promtool check metrics (exit \(check.code)): \(check.output.isEmpty ? "no problems" : check.output)")
        #expect(check.code == 0, "promtool check metrics: \(check.output)\n\(text)")
        #expect(check.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "promtool: \(check.output)")
    }
}
