import Foundation
import Testing

/// Helpers for the tests of issue 16 (process managers, metrics, logs, CLI habits).
enum Fit {
    /// The path of a Debian tool (`promtool`, `supervisord`, `systemd-analyze`), or nil with the
    /// test printing why it is skipped.
    static func tool(_ name: String, package: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"]
        for dir in dirs {
            let path = dir + "/" + name
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        print("skipped: \(name) not found (Debian package \(package); scripts/test.sh installs it when it can)")
        return nil
    }

    struct ToolResult {
        var code: Int32
        var output: String
    }

    /// Runs a tool to completion with stdout and stderr together (killed after `timeout` seconds).
    @discardableResult
    static func runTool(_ path: String, _ args: [String], stdin: String? = nil, cwd: URL? = nil,
                        environment: [String: String]? = nil, timeout: Double = 60) throws -> ToolResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = cwd }
        if let environment { p.environment = environment }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let input = Pipe()
        p.standardInput = input
        try p.run()
        let drain = ReadAll(out)
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return ToolResult(code: p.terminationStatus, output: drain.text())
    }

    /// GET `http://127.0.0.1:PORT/PATH` → body when 200.
    static func get(port: Int, _ path: String) -> String? {
        let reply = FuzzBinaryTests.request(URL(string: "http://127.0.0.1:\(port)\(path)")!, method: "GET", body: nil)
        return reply.status == 200 ? String(decoding: reply.body, as: UTF8.self) : nil
    }

    /// The repository root (Package.swift's folder).
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}
