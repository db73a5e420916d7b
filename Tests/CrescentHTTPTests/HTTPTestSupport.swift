import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import CrescentHTTP

/// A fresh temporary database, a registry with a few tasks (and one load error), and an
/// `HTTPServer` over them; removed when released.
final class HTTPFixture: Sendable {
    let dir: URL
    let store: SQLiteJobStore
    let registry: TaskRegistry
    let server: HTTPServer
    let enqueuedCalls = Counter()

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.withLock { n += 1 } }
        var value: Int { lock.withLock { n } }
    }

    init(password: String? = nil, healthCheck: (@Sendable () throws -> Void)? = nil) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = Config(baseDir: dir)
        config.httpListen = ("127.0.0.1", 0)
        config.httpPassword = password
        // Long enough that a loaded machine never makes a just-registered process look lost.
        config.lease = 600
        config.queues = [.init(name: "critical", concurrency: 10), .init(name: "default", concurrency: 100)]
        store = try SQLiteJobStore(path: dir.appendingPathComponent("crescent.db").path)
        registry = TaskRegistry()

        var welcome = TaskDefinition(name: "mail/welcome", file: "tasks/mail/welcome.lua")
        welcome.retry = RetryPolicy(attempts: 3, backoff: .exponential, delay: 15, maxDelay: 3600, jitter: 0.1)
        var sync = TaskDefinition(name: "sync", file: "tasks/sync.lua")
        sync.queue = "critical"
        sync.priority = 5
        sync.unique = UniquePolicy(by: .args)
        var digest = TaskDefinition(name: "report/daily", file: "tasks/report/daily.lua")
        digest.schedule = try Schedule.parse("0 8 * * *")
        digest.scheduleText = "0 8 * * *"
        registry.install(
            definitions: [welcome, sync, digest],
            errors: [TaskLoadError(file: "tasks/broken.lua", line: 3, message: "unknown field \"scheduel\"")],
            version: 1)

        let store = self.store, registry = self.registry
        let enqueuer = Enqueuer(store: store, registry: registry, functionKey: { _, _ in nil })
        let calls = enqueuedCalls
        var logger = Logger(label: "crescent.http.test")
        logger.logLevel = .critical
        server = HTTPServer(config: config, store: store, registry: registry, enqueuer: enqueuer,
                            onEnqueued: { calls.add() }, logger: logger,
                            healthCheck: healthCheck ?? { try store.ping() })
    }

    deinit {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Runs `body` against the application in-process (no socket).
    func test<T: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> T) async throws -> T {
        try await server.buildApplication().test(.router, body)
    }

    // MARK: seeding

    @discardableResult
    func insert(_ task: String = "mail/welcome", queue: String = "default", args: String = "{}", maxAttempts: Int = 3,
                runAt: Date = Date()) throws -> Int64 {
        try store.jobInsert(JobInsertParams(task: task, queue: queue, args: args, maxAttempts: maxAttempts, runAt: runAt)).id
    }

    /// Claims the job (it must be the only due one of its queue) and returns it running.
    func claim(queue: String = "default", worker: String = "test-worker") throws -> Job {
        let jobs = try store.jobClaim(JobClaimParams(queue: queue, limit: 1, worker: worker))
        return try #require(jobs.first)
    }

    /// A job that failed its only attempt: `dead`, with a run carrying an error and traceback.
    @discardableResult
    func deadJob(error: String = "northstar answered 500", traceback: String? = "stack traceback:\n\t[C]: in function 'error'\n\ttasks/mail/welcome.lua:7: in function <tasks/mail/welcome.lua:3>",
                 task: String = "mail/welcome", args: String = "{\"id\":1}") throws -> Int64 {
        let id = try insert(task, args: args, maxAttempts: 1)
        let job = try claim()
        #expect(job.id == id)
        let applied = try store.jobCompleteMany([JobCompletion(jobID: id, attempt: job.attempt, worker: "test-worker",
                                                               outcome: .failed(error: error, traceback: traceback, retryAt: nil))])
        #expect(applied == [true])
        return id
    }

    /// A job that ran and succeeded with `result`.
    @discardableResult
    func succeededJob(result: String = "{\"synced\":true}") throws -> Int64 {
        let id = try insert()
        let job = try claim()
        _ = try store.jobCompleteMany([JobCompletion(jobID: id, attempt: job.attempt, worker: "test-worker", outcome: .succeeded(result: result))])
        return id
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }
    var json: JSONValue? { try? JSONValue.decode(text) }
}

func body(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }

let jsonHeaders: HTTPFields = [.contentType: "application/json"]
let browserHeaders: HTTPFields = [.accept: "text/html,application/xhtml+xml"]

/// The CSRF token a dashboard page embeds in its forms.
func csrfToken(in html: String) -> String? {
    guard let r = html.range(of: "name=\"csrf\" value=\"") else { return nil }
    let rest = html[r.upperBound...]
    return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
}
