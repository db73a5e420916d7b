import ArgumentParser
import CrescentCore
import CrescentHTTP
import Foundation
import CrescentRuntime
import Logging

struct RunCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the scheduler and the worker pool until stopped.")

    @OptionGroup var options: ConfigOption

    @Option(help: "Serve only these queues, in this priority order (comma-separated).")
    var queues: String?

    @Option(help: "Exit once this process has finished N runs.")
    var limit: Int?

    @Option(name: .customLong("http-listen"), help: ArgumentHelp("Serve HTTP on this host:port instead of [http] listen.", valueName: "addr"))
    var httpListen: String?

    @Flag(name: .customLong("no-http"), help: "Serve no HTTP, whatever [http] says.")
    var noHTTP = false

    @Option(name: .customLong("max-jobs"), help: "At most N jobs in flight in this process, all queues together (over [workers] max_jobs).")
    var maxJobs: Int?

    @Flag(name: .shortAndLong, help: "More logging (-v debug, -vv trace).")
    var verbose: Int

    func execute() throws {
        var config = try options.load()
        if noHTTP && httpListen != nil { throw CrescentError.usage("--http-listen and --no-http exclude each other") }
        if noHTTP { config.httpListen = nil }
        if let httpListen {
            guard let address = Config.listenAddress(httpListen) else {
                throw CrescentError.usage("--http-listen must be host:port, e.g. 127.0.0.1:7421, not \"\(httpListen)\"")
            }
            if config.httpPassword == nil, !Config.isLoopback(address.host) {
                throw CrescentError.usage("--http-listen \(httpListen): \(address.host) is not a loopback address, so [http] needs a password")
            }
            config.httpListen = address
        }
        if let limit, limit < 1 { throw CrescentError.usage("--limit must be at least 1") }
        if let maxJobs, maxJobs < 1 { throw CrescentError.usage("--max-jobs must be at least 1, not \(maxJobs)") }
        var queueList: [String]?
        if let queues {
            let names = queues.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard !names.isEmpty, !names.contains(where: \.isEmpty) else { throw CrescentError.usage("--queues must be a comma-separated list of queue names") }
            queueList = names
        }
        let level = (Logger.Level(configName: config.logLevel) ?? .info).raised(by: verbose)
        LogSetup.bootstrap(format: config.logFormat, level: level)
        let logger = Logger(label: "crescent")
        let runner = Runner(config: config, options: .init(queues: queueList, limit: limit, maxJobs: maxJobs), logger: logger)
        if config.httpListen != nil {
            let config = config
            runner.frontEnd = { context in
                let server = HTTPServer(config: config, store: context.store, registry: context.registry, enqueuer: context.enqueuer,
                                        onEnqueued: context.wake, logger: logger, health: context.health)
                try blocking { try await server.start() }
                return { try? blocking { await server.stop() } }
            }
        }
        let code = try runner.run()
        if code != 0 { throw ExitCode(code) }
    }
}

/// Runs async work from the synchronous command thread and waits for it.
func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    let box = LockedResult<T>()
    Task {
        do { box.set(.success(try await work())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    return try box.get()
}

final class LockedResult<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, any Error>?
    func set(_ r: Result<T, any Error>) { lock.lock(); value = r; lock.unlock() }
    func get() throws -> T { lock.lock(); defer { lock.unlock() }; return try value!.get() }
}
