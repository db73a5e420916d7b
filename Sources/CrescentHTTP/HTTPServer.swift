import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle

/// The HTTP side of `crescent run` (SPEC §7): the JSON API under `/api`, the dashboard,
/// `/metrics` and `/healthz`, on one Hummingbird router.
///
/// `start()` binds and returns once listening; the server then runs in the background
/// until `stop()`. Tests drive `buildApplication()` in-process with HummingbirdTesting.
public final class HTTPServer: Sendable {
    /// Request bodies larger than this are refused with 413.
    public static let maxBodySize = 1 << 20

    let config: Config
    let store: any JobStore
    let registry: TaskRegistry
    let enqueuer: Enqueuer
    let onEnqueued: @Sendable () -> Void
    let logger: Logger
    /// Dashboard, `/metrics` and `/api/stats` reads, one at a time (HTTPServer+Reads.swift).
    let readQueue = DispatchQueue(label: "crescent.http.reads", qos: .utility)
    /// The Prometheus registry `/metrics` emits.
    let metrics: PrometheusCollectorRegistry
    /// Random per process: dashboard forms carry it, POSTs without it are refused.
    let csrfToken: String
    /// `/healthz` answers 200 when this does not throw.
    let healthCheck: @Sendable () throws -> Void
    let jobGauges = JobGauges()
    let pausedGauges = PausedGauges()
    private let running = LockedBox<Running?>(nil)

    struct Running: Sendable {
        var group: ServiceGroup
        var task: Task<Void, Never>
        var port: Int
    }

    /// With `health` (a running `run` process's own view: nil when healthy, else why not),
    /// `/healthz` answers from it without touching the database; without, it pings the store.
    public convenience init(config: Config, store: any JobStore, registry: TaskRegistry, enqueuer: Enqueuer,
                            onEnqueued: @escaping @Sendable () -> Void, logger: Logger,
                            health: (@Sendable () -> String?)? = nil) {
        let check: @Sendable () throws -> Void
        if let health {
            check = { if let problem = health() { throw CrescentError.failed(problem) } }
        } else {
            check = { try store.ping() }
        }
        self.init(config: config, store: store, registry: registry, enqueuer: enqueuer, onEnqueued: onEnqueued,
                  logger: logger, healthCheck: check)
    }

    init(config: Config, store: any JobStore, registry: TaskRegistry, enqueuer: Enqueuer,
         onEnqueued: @escaping @Sendable () -> Void, logger: Logger, healthCheck: @escaping @Sendable () throws -> Void) {
        self.config = config
        self.store = store
        self.registry = registry
        self.enqueuer = enqueuer
        self.onEnqueued = onEnqueued
        self.logger = logger
        self.metrics = Self.bootstrapMetrics()
        self.csrfToken = Self.randomToken()
        self.healthCheck = healthCheck
    }

    /// The address from `[http] listen`, or SPEC's default 127.0.0.1:7420.
    public var listenAddress: (host: String, port: Int) {
        config.httpListen ?? ("127.0.0.1", 7420)
    }

    /// The port actually bound (useful with port 0), once `start()` returned.
    public var boundPort: Int? { running.value?.port }

    // MARK: building

    /// The router with every route and middleware: error mapping outermost, then the
    /// cross-site check of state-changing requests, then auth.
    public func buildRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let errors = ErrorMiddleware<BasicRequestContext>()
        router.add(middleware: errors)
        router.add(middleware: SameOriginMiddleware())
        router.add(middleware: AuthMiddleware(password: config.httpPassword))
        addAPIRoutes(to: router)
        addOpenAPIRoute(to: router)
        addControlRoutes(to: router)
        addBulkRoutes(to: router)
        addOpsRoutes(to: router)
        addDashboardRoutes(to: router)
        errors.routes.set(from: router)
        return router
    }

    /// The Hummingbird application listening on `host:port`.
    public func buildApplication(
        host: String? = nil, port: Int? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let address = listenAddress
        let bindPort = port ?? address.port
        // Hummingbird's own lines go through our log handler; its info line about starting
        // repeats ours (`start()` logs the URL), so it logs from notice up.
        var serverLogger = logger
        if serverLogger.logLevel < .notice { serverLogger.logLevel = .notice }
        return Application(
            router: buildRouter(),
            configuration: ApplicationConfiguration(address: .hostname(host ?? address.host, port: bindPort), serverName: "crescent"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? bindPort) },
            logger: serverLogger
        )
    }

    // MARK: running

    /// Binds the listen address and returns once the server accepts connections; it then
    /// serves in the background. Throws (a `CrescentError`) when it cannot listen.
    public func start() async throws {
        let (host, port) = listenAddress
        let (events, sink) = AsyncStream<Result<Int, any Error>>.makeStream()
        let app = buildApplication(host: host, port: port) { bound in sink.yield(.success(bound)) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            do {
                try await group.run()
                sink.yield(.failure(CrescentError.failed("the HTTP server stopped")))
            } catch {
                sink.yield(.failure(error))
            }
            sink.finish()
        }
        for await event in events {
            switch event {
            case .success(let bound):
                running.value = Running(group: group, task: task, port: bound)
                let shown = host.contains(":") ? "[\(host)]" : host
                logger.info("listening: dashboard at http://\(shown):\(bound)/", metadata: ["address": "\(host):\(bound)"])
                return
            case .failure(let error):
                throw CrescentError.failed("cannot listen on \(host):\(port): \(error)")
            }
        }
        throw CrescentError.failed("cannot listen on \(host):\(port)")
    }

    /// Stops accepting connections, lets requests in flight finish, and returns when done.
    public func stop() async {
        guard let r = running.take() else { return }
        await r.group.triggerGracefulShutdown()
        await r.task.value
    }

    // MARK: helpers

    static func randomToken() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &rng)) }.joined()
    }

    /// Runs blocking store work off the Swift concurrency pool.
    func io<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            DispatchQueue.global().async {
                cont.resume(with: Result { try body() })
            }
        }
    }
}

/// A value behind a lock, for the few mutable bits of otherwise immutable types.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
    func withValue<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try lock.withLock { try body(&stored) }
    }
}

extension LockedBox {
    func take<Wrapped>() -> Wrapped? where Value == Wrapped? {
        withValue { v in defer { v = nil }; return v }
    }
}
