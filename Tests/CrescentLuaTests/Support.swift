import CrescentCore
import Foundation
import Logging
@testable import CrescentLua

/// A temporary folder with `tasks/` files, removed when the fixture is released.
final class Fixture: @unchecked Sendable {
    let root: URL
    var tasksDir: URL { root.appendingPathComponent("tasks") }

    init(_ files: [String: String]) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-lua-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("tasks"), withIntermediateDirectories: true)
        for (path, source) in files { try write(path, source) }
    }

    func write(_ path: String, _ source: String) throws {
        let url = tasksDir.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try source.write(to: url, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    func config(memory: Int = 64 << 20, env: [String: String] = [:], httpTimeout: Double = 5,
                allowHosts: HTTPAllowList? = nil) -> LuaConfig {
        LuaConfig(tasksDir: tasksDir, displayRoot: root, memoryLimit: memory, env: env, httpTimeout: httpTimeout,
                  httpAllowHosts: allowHosts)
    }

    func snapshot(version: Int = 1) -> TaskSnapshot {
        TaskSnapshot.read(tasksDir: tasksDir, displayRoot: root, version: version)
    }

    func load() -> TaskSet { TaskLoader.load(snapshot(), config: config()) }

    /// A worker with the fixture's tasks installed, and a host that knows them.
    func worker(memory: Int = 64 << 20, env: [String: String] = [:], host: TestHost? = nil,
                logs: LogCapture? = nil, allowHosts: HTTPAllowList? = nil) throws -> (LuaWorker, TestHost) {
        let config = self.config(memory: memory, env: env, allowHosts: allowHosts)
        let set = TaskLoader.load(snapshot(), config: config)
        let host = host ?? TestHost()
        host.setDefinitions(set.definitions)
        let logger = logs.map { capture in Logger(label: "test", factory: { _ in CaptureHandler(capture: capture) }) }
            ?? Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let worker = try LuaWorker(index: 0, config: config, host: host, logger: logger)
        let errors = worker.install(snapshot())
        if !errors.isEmpty {
            worker.shutdown()
            throw CrescentError.failed("fixture tasks failed to load: \(errors)")
        }
        return (worker, host)
    }
}

final class TestHost: LuaHost, @unchecked Sendable {
    private let lock = NSLock()
    private var definitions: [String: TaskDefinition] = [:]
    var store: [String: JSONValue] = [:]
    var active: [String: Int64] = [:]
    private var nextID: Int64 = 1000
    var uniqueQueries: [(String, Double?)] = []

    func setDefinitions(_ defs: [TaskDefinition]) {
        lock.withLock { for d in defs { definitions[d.name] = d } }
    }

    func task(named name: String) -> TaskDefinition? { lock.withLock { definitions[name] } }
    func storeGet(task: String, key: String) throws -> JSONValue? { lock.withLock { store[task + "/" + key] } }
    func reserveJobID() throws -> Int64 { lock.withLock { nextID += 1; return nextID } }
    func findActiveUnique(key: String, period: Double?) throws -> Int64? {
        lock.withLock { uniqueQueries.append((key, period)); return active[key] }
    }
}

final class LogCapture: @unchecked Sendable {
    struct Entry { var level: Logger.Level; var message: String; var metadata: Logger.Metadata }
    private let lock = NSLock()
    private var _entries: [Entry] = []
    var entries: [Entry] { lock.withLock { _entries } }
    func append(_ e: Entry) { lock.withLock { _entries.append(e) } }
}

struct CaptureHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        capture.append(.init(level: level, message: message.description, metadata: self.metadata.merging(metadata ?? [:]) { $1 }))
    }
}

func makeJob(_ id: Int64 = 1, task: String, args: String = "{}", attempt: Int = 1, queue: String = "default",
             scheduledFor: Date? = nil) -> Job {
    Job(id: id, task: task, queue: queue, priority: 0, state: .running, args: args, attempt: attempt, maxAttempts: 5,
        scheduledFor: scheduledFor, runAt: Date(), createdAt: Date())
}

/// Collects results of submitted attempts; `wait` polls with a deadline.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var byJob: [Int64: ExecResult] = [:]
    private let signal = DispatchSemaphore(value: 0)

    var completion: @Sendable (ExecResult) -> Void {
        { [self] r in lock.withLock { byJob[r.jobID] = r }; signal.signal() }
    }

    var count: Int { lock.withLock { byJob.count } }
    subscript(id: Int64) -> ExecResult? { lock.withLock { byJob[id] } }

    /// Waits until `n` results arrived or `timeout` passed.
    @discardableResult
    func wait(for n: Int, timeout: Double = 30) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while count < n {
            let left = end.timeIntervalSinceNow
            if left <= 0 { return false }
            _ = signal.wait(timeout: .now() + left)
        }
        return true
    }
}

/// Runs one job to its end (30 s deadline).
func run(_ worker: LuaWorker, _ job: Job, ttl: Double = 30) -> ExecResult? {
    let results = Results()
    worker.submit(ExecRequest(job: job, ttl: ttl), completion: results.completion)
    results.wait(for: 1)
    return results[job.id]
}

/// A task file whose handler is `body`.
func task(_ body: String, settings: String = "") -> String {
    "return {\n\(settings)\nhandler = function(job)\n\(body)\nend,\n}\n"
}

/// The decoded result of a succeeded attempt, or nil.
func succeeded(_ r: ExecResult?) -> JSONValue? {
    guard case .succeeded(let json)? = r?.outcome else { return nil }
    return try? JSONValue.decode(json)
}

/// The error message of a failed attempt, or nil.
func failure(_ r: ExecResult?) -> String? {
    guard case .failed(let m, _)? = r?.outcome else { return nil }
    return m
}
