import CrescentCore
import Foundation
import Testing

/// Issue 16 item 3: the unit and supervisor files in contrib/, checked with the real tools, and
/// `run`'s HTTP overrides and SIGHUP.
@Suite(.serialized) struct ProcessManagerTests {
    static func contrib(_ path: String) throws -> String {
        try String(contentsOf: Fit.repoRoot.appendingPathComponent("contrib/" + path), encoding: .utf8)
    }

    /// `key=value` lines of an ini-like file (the last one wins).
    static func settings(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.hasPrefix(";") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// The default `[workers] shutdown_timeout`, which both files must outwait.
    static let shutdownTimeout = 30.0

    @Test func systemdTemplateUnitVerifies() throws {
        let unit = try Self.contrib("systemd/crescent@.service")
        let s = Self.settings(unit)
        #expect(s["KillSignal"] == "SIGTERM")
        #expect((Double(s["TimeoutStopSec"] ?? "") ?? 0) > Self.shutdownTimeout, "TimeoutStopSec must outwait shutdown_timeout")
        #expect(s["Restart"] != nil && s["Restart"] != "no")
        #expect(s["ExecStart"]?.contains("--queues %i") == true, "one unit per queue set")
        #expect(s["ExecReload"]?.contains("-HUP") == true)
        guard let analyze = Fit.tool("systemd-analyze", package: "systemd") else { return }
        // The installed paths become this build's binary, so verify checks the real command.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try unit.replacingOccurrences(of: "/usr/local/bin/crescent", with: Project.binary.path)
            .write(to: dir.appendingPathComponent("crescent@.service"), atomically: true, encoding: .utf8)
        let r = try Fit.runTool(analyze, ["verify", dir.appendingPathComponent("crescent@default.service").path], cwd: dir)
        print("systemd-analyze verify crescent@default.service (exit \(r.code)): \(r.output.isEmpty ? "no problems" : r.output)")
        #expect(r.code == 0, "\(r.output)")
        #expect(!r.output.contains("crescent@"), "\(r.output)")
    }

    @Test func supervisorctlStopLetsARunningJobFinish() throws {
        let conf = try Self.contrib("supervisor/crescent.conf")
        let s = Self.settings(conf)
        #expect(s["stopsignal"] == "TERM")
        #expect((Double(s["stopwaitsecs"] ?? "") ?? 0) > Self.shutdownTimeout, "stopwaitsecs must outwait shutdown_timeout")
        #expect(s["stdout_logfile"] == "/dev/stdout" && s["redirect_stderr"] == "true")
        guard let supervisord = Fit.tool("supervisord", package: "supervisor"),
              let supervisorctl = Fit.tool("supervisorctl", package: "supervisor") else { return }

        let p = try Project(config: Project.quietConfig.replacingOccurrences(of: "level = \"warn\"", with: "level = \"info\""),
                            tasks: ["slow.lua": "return { handler = function(job) sleep(5); return { slept = 5 } end }"])
        let sock = p.dir.appendingPathComponent("sv.sock").path
        // contrib's program section as shipped, with this build's binary and the test's project.
        var program = conf
            .replacingOccurrences(of: "/usr/local/bin/crescent", with: Project.binary.path)
            .replacingOccurrences(of: "/opt/crescent/crescent.toml", with: p.dir.appendingPathComponent("crescent.toml").path)
            .replacingOccurrences(of: "directory=/opt/crescent", with: "directory=\(p.dir.path)")
        program = program.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("user=") }.joined(separator: "\n")
        try p.write("supervisord.conf", """
            [supervisord]
            nodaemon=true
            logfile=\(p.dir.path)/supervisord.log
            pidfile=\(p.dir.path)/supervisord.pid
            [unix_http_server]
            file=\(sock)
            [supervisorctl]
            serverurl=unix://\(sock)
            [rpcinterface:supervisor]
            supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

            """ + program)
        let confPath = p.dir.appendingPathComponent("supervisord.conf").path
        let sv = Process()
        sv.executableURL = URL(fileURLWithPath: supervisord)
        sv.arguments = ["-c", confPath]
        let out = Pipe()
        sv.standardOutput = out
        sv.standardError = out
        try sv.run()
        let svOut = ReadAll(out)
        // Test processes may start children with SIGTERM blocked (it is then never seen by
        // supervisord), so supervisord is shut down through supervisorctl, SIGKILL as a fallback.
        defer {
            if sv.isRunning { kill(sv.processIdentifier, SIGKILL) }
            sv.waitUntilExit()
        }
        let ctl = { (args: [String]) throws -> Fit.ToolResult in try Fit.runTool(supervisorctl, ["-c", confPath] + args, timeout: 90) }
        let running = try opsEventually(20) { () -> String? in
            let r = try ctl(["status", "crescent"])
            return r.output.contains("RUNNING") ? r.output : nil
        }
        try #require(running != nil, "crescent never RUNNING under supervisord")

        let id = try p.opsEnqueue("slow")
        try #require(try p.opsWaitFor(id, "running") != nil, "the 5 s job never started")
        let stop = try ctl(["stop", "crescent"])
        print("supervisorctl stop crescent (exit \(stop.code)): \(stop.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        #expect(stop.output.contains("crescent: stopped"), "\(stop.output)")

        let job = try #require(try p.opsJob(id))
        let runs = job["runs"]?.array ?? []
        print("job \(id) after the stop: state \(job["state"]?.stringValue ?? "?"), runs \(runs.map { $0["outcome"]?.stringValue ?? "?" }), result \(job["result"]?.encoded() ?? "null")")
        #expect(job["state"]?.stringValue == "succeeded", "\(job.encoded())")
        #expect(runs.count == 1 && runs.first?["outcome"]?.stringValue == "succeeded", "\(job.encoded())")

        _ = try ctl(["shutdown"])
        _ = opsEventually(20) { sv.isRunning ? nil : true }
        if sv.isRunning { kill(sv.processIdentifier, SIGKILL) }
        sv.waitUntilExit()
        // The runner's log lines reached supervisord's stdout, the graceful stop among them.
        let log = svOut.text()
        #expect(log.contains("stopping: no new jobs"), "supervisord output: \(log)")
        #expect(log.contains("\"msg\":\"stopped\""), "supervisord output: \(log)")
    }
}
