import CrescentCore
import Foundation
import Testing

/// A temporary Crescent project folder (crescent.toml + tasks/) and a way to run the real
/// `crescent` binary in it, as a user would.
final class Project: @unchecked Sendable {
    let dir: URL
    /// The PostgreSQL schema this project's `database = "jobs.db"` stands for when the tests
    /// run on PostgreSQL (StoreSupport.swift); unused on SQLite.
    let schema = TestStore.newSchema()

    /// A database in the project folder, two Lua VMs, warnings only, as JSON lines.
    static let quietConfig = """
        database = "jobs.db"
        [workers]
        threads = 2
        [log]
        format = "json"
        level = "warn"
        """

    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["CRESCENT_BIN"] { return URL(fileURLWithPath: path) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for candidate in [".build/debug/crescent", ".build/release/crescent"] {
            let url = root.appendingPathComponent(candidate)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return root.appendingPathComponent(".build/debug/crescent")
    }

    init(config: String = "", tasks: [String: String] = [:]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("tasks"), withIntermediateDirectories: true)
        try write("crescent.toml", config)
        for (name, source) in tasks { try write("tasks/\(name)", source) }
    }

    deinit {
        try? FileManager.default.removeItem(at: dir)
        dropSchema()
    }

    /// Writes a file in the project; `crescent.toml` is adapted to the store under test.
    func write(_ path: String, _ text: String) throws {
        let text = path == "crescent.toml" ? TestStore.config(text, schema: schema) : text
        let url = dir.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    struct Result {
        var code: Int32
        var stdout: String
        var stderr: String
        var json: JSONValue? { try? JSONValue.decode(stdout) }
        var jsonLines: [JSONValue] { stdout.split(separator: "\n").compactMap { try? JSONValue.decode(String($0)) } }
    }

    /// Starts `crescent ARGS --config <dir>/crescent.toml` in the project folder.
    func start(_ args: [String], config: Bool = true) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = Project.binary
        p.arguments = args + (config ? ["--config", dir.appendingPathComponent("crescent.toml").path] : [])
        p.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Runs to completion (killed after `timeout` seconds).
    @discardableResult
    func run(_ args: [String], config: Bool = true, timeout: Double = 60) throws -> Result {
        let (p, out, err) = try start(args, config: config)
        let outData = ReadAll(out), errData = ReadAll(err)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if p.isRunning { p.terminate(); p.waitUntilExit() }
        p.waitUntilExit()
        return Result(code: p.terminationStatus, stdout: outData.text(), stderr: errData.text())
    }
}

/// Drains a pipe on a background thread so a chatty child never blocks on a full pipe.
final class ReadAll: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

extension JSONValue {
    var array: [JSONValue] { if case .array(let a) = self { return a }; return [] }
}
