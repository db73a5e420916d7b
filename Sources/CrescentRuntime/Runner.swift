import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

extension Config {
    /// The Lua side's view of this config.
    public var luaConfig: LuaConfig {
        LuaConfig(tasksDir: tasksDir, displayRoot: baseDir, memoryLimit: memoryLimit, env: env,
                  httpTimeout: httpTimeout, maxConnectionsPerHost: maxConnectionsPerHost, httpAllowHosts: httpAllowHosts)
    }

    /// Reads and validates the tasks directory into a fresh registry. With `store`, a task whose
    /// file fails to load now keeps the definition a runner last persisted (its last good version).
    /// The snapshot returned has the files whose load got stuck marked (`stalled`), for VMs to skip.
    public func loadTasks(version: Int = 1, store: JobStore? = nil) -> (TaskSnapshot, TaskRegistry) {
        var snapshot = TaskSnapshot.read(tasksDir: tasksDir, displayRoot: baseDir, version: version)
        let set = TaskLoader.load(snapshot, config: luaConfig)
        snapshot.stalled = set.stalled
        let registry = TaskRegistry()
        if let store { registry.install(definitions: TaskRegistry.persisted(in: store), errors: [], version: 0) }
        registry.install(definitions: set.definitions, errors: set.errors, version: version, tasksVersion: snapshot.contentDigest)
        return (snapshot, registry)
    }
}

/// `crescent run`: wires the store, the Lua workers, the Pipeline, the Scheduler and the
/// Heartbeat and Pruner, and runs them until a signal, `--limit` or `crescent stop`.
public final class Runner: @unchecked Sendable {
    public struct Options: Sendable {
        public var queues: [String]?
        public var limit: Int?
        /// `run --max-jobs`, over `[workers] max_jobs`.
        public var maxJobs: Int?
        public init(queues: [String]? = nil, limit: Int? = nil, maxJobs: Int? = nil) {
            self.queues = queues; self.limit = limit; self.maxJobs = maxJobs
        }
    }

    /// What a running Runner offers to front ends started beside it (the HTTP server).
    public struct Context: Sendable {
        public var store: any JobStore
        public var registry: TaskRegistry
        public var enqueuer: Enqueuer
        /// Wake the pipeline (a job was enqueued in this process).
        public var wake: @Sendable () -> Void
        /// Nil while this process is healthy, else why not (`/healthz`).
        public var health: @Sendable () -> String?
    }

    let config: Config
    let options: Options
    let logger: Logger
    /// Started after the pipeline; the returned closure is called at shutdown.
    public var frontEnd: (@Sendable (Context) throws -> (@Sendable () -> Void))?
    private let stopSignal = DispatchSemaphore(value: 0)
    private let stopLock = NSLock()
    private var stopRequested = false
    private var signalSources: [DispatchSourceSignal] = []
    private var signalCount = 0

    /// How long past `shutdown_timeout` a graceful stop may take at most.
    static let stopGrace: Double = 5

    public init(config: Config, options: Options, logger: Logger) {
        self.config = config
        self.options = options
        self.logger = logger
    }

    /// Asks the runner to stop gracefully (idempotent).
    public func requestStop() {
        stopLock.lock()
        defer { stopLock.unlock() }
        guard !stopRequested else { return }
        stopRequested = true
        stopSignal.signal()
    }

    /// Runs until stopped; returns the process exit code.
    public func run() throws(CrescentError) -> Int32 {
        let store = try config.openStore()
        let registry = TaskRegistry()
        let host = RuntimeHost(store: store, registry: registry)
        var workers: [LuaWorker] = []
        for i in 0..<config.threads {
            do {
                workers.append(try LuaWorker(index: i, config: config.luaConfig, host: host, logger: logger))
            } catch {
                throw .failed("cannot start Lua worker \(i): \(error)")
            }
        }

        // One path for the first load and every reload: validate, swap the registry, load the
        // snapshot into every VM, record the definitions for other commands, log the outcome.
        let luaConfig = config.luaConfig
        let logger = self.logger
        let allWorkers = workers
        let tasksDir = config.tasksDir.path
        let load: @Sendable (TaskSnapshot) -> Void = { [self] snapshot in
            for link in snapshot.skippedLinks {
                logger.warning("directory symlink under the tasks directory not followed", metadata: ["path": "\(link)"])
            }
            let set = TaskLoader.load(snapshot, config: luaConfig)
            let installed = registry.install(definitions: set.definitions, errors: set.errors, version: snapshot.version,
                                             tasksVersion: snapshot.contentDigest)
            // Files whose load got stuck in a C call are not run again in the workers' VMs.
            var checked = snapshot
            checked.stalled = set.stalled
            for worker in allWorkers { _ = worker.install(checked) }
            persist(registry, store)
            for error in installed.errors {
                logger.error("task file failed to load; an earlier good version of its task, if any, keeps running", metadata: [
                    "file": "\(error.file)", "line": error.line.map { .stringConvertible($0) } ?? .string(""), "error": "\(error.message)",
                ])
            }
            logger.info("tasks loaded", metadata: [
                "version": .stringConvertible(snapshot.version), "tasks_version": "\(installed.tasksVersion)", "tasks": .stringConvertible(installed.tasks.count), "errors": .stringConvertible(installed.errors.count), "dir": "\(tasksDir)",
            ])
        }
        let snapshot = TaskSnapshot.read(tasksDir: config.tasksDir, displayRoot: config.baseDir, version: 1)
        load(snapshot)

        let queues: [Config.Queue]
        if let names = options.queues {
            try checkQueues(names, registry: registry, store: store)
            queues = names.map { name in config.queues.first { $0.name == name } ?? .init(name: name, concurrency: config.defaultConcurrency) }
        } else {
            queues = config.queues
        }
        let hostName = Foundation.ProcessInfo.processInfo.hostName
        let pid = getpid()
        let processID = "\(hostName):\(pid):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        let now = Date()
        let process = WorkerProcess(id: processID, host: hostName, pid: pid, queues: queues.map(\.name), startedAt: now, heartbeatAt: now,
                                    tasksVersion: registry.current.tasksVersion, version: CrescentVersion.current)
        let progress = ProgressWriter(store: store, worker: processID, logger: logger)
        host.progressWriter = progress

        let pipeline = Pipeline(store: store, registry: registry, workers: workers, processID: processID, queues: queues,
                                restricted: options.queues != nil, defaultConcurrency: config.defaultConcurrency,
                                maxRuns: options.limit, maxJobs: options.maxJobs ?? config.maxJobs, logger: logger)
        if let limit = options.limit {
            pipeline.onFinished = { [weak self] total in if total >= limit { self?.requestStop() } }
        }
        let scheduler = Scheduler(store: store, registry: registry, logger: logger, onFired: { pipeline.wake() })
        let heartbeat = Heartbeat(
            store: store, registry: registry, process: process,
            settings: .init(lease: config.lease, interval: min(2, config.lease / 3)), logger: logger,
            databasePath: store is SQLiteJobStore ? config.database : nil, busy: { pipeline.busy }, capacity: { pipeline.capacity },
            running: { pipeline.runningAttempts },
            cancel: { pipeline.cancel(jobIDs: $0) }, onStopRequested: { [weak self] in self?.requestStop() })
        pipeline.canClaim = { heartbeat.canClaim }
        var pruneSettings = Pruner.Settings(retentionSucceeded: config.retentionSucceeded, retentionDead: config.retentionDead)
        pruneSettings.taskRetention = {
            registry.current.tasks.values.reduce(into: [:]) { out, def in if !def.retention.isEmpty { out[def.name] = def.retention } }
        }
        let pruner = Pruner(store: store, settings: pruneSettings, logger: logger, load: { pipeline.busy })

        let watcher = Watcher(tasksDir: config.tasksDir, displayRoot: config.baseDir, initial: snapshot, logger: logger) { snapshot in
            load(snapshot)
            scheduler.wake()
            pipeline.wake()
        }

        do {
            try heartbeat.start()
        } catch {
            throw .failed("cannot register this process in the database: \(error)")
        }
        installSignalHandlers(onHangup: { watcher.reloadAll(reason: "SIGHUP") })
        progress.start()
        pipeline.start()
        pruner.start()
        scheduler.start()
        watcher.start()
        var stopFrontEnd: (@Sendable () -> Void)?
        // Stop fetching first (the other loops can take a moment to stop), then the inputs.
        func stopAll(timeout: Double) {
            pipeline.shutdown(timeout: timeout)
            progress.stop()
            stopFrontEnd?()
            watcher.stop()
            scheduler.stop()
            pruner.stop()
            heartbeat.stop()
            for worker in workers { worker.shutdown() }
        }
        if let frontEnd {
            let firstWorker = workers[0]
            let enqueuer = Enqueuer(store: store, registry: registry) { try firstWorker.uniqueKey(task: $0, args: $1) }
            do {
                stopFrontEnd = try frontEnd(Context(store: store, registry: registry, enqueuer: enqueuer, wake: { pipeline.wake() },
                                                     health: { heartbeat.problem }))
            } catch {
                stopAll(timeout: 0)
                throw (error as? CrescentError) ?? .failed("\(error)")
            }
        }
        CrescentMetrics.workerCapacity(pipeline.capacity)  // and at each heartbeat (queues named later, max_jobs)
        logger.info("crescent running", metadata: [
            "process": "\(processID)", "threads": .stringConvertible(config.threads), "queues": "\(queues.map(\.name).joined(separator: ","))",
            "max_jobs": .stringConvertible((options.maxJobs ?? config.maxJobs) ?? 0),
            "store": "\(store.storeDescription)",
        ])

        stopSignal.wait()
        logger.info("stopping: no new jobs; waiting for running ones", metadata: ["timeout_s": .stringConvertible(config.shutdownTimeout)])
        let timeout = options.limit != nil && pipeline.finishedRuns >= options.limit! ? 0 : config.shutdownTimeout
        // Whatever the store does (a full disk, a lock held elsewhere), the stop ends in time.
        // Cancelled once stopped: a process that goes on after its runner (`bench`) is not cut short.
        let bound = DispatchWorkItem { [logger] in
            logger.error("stopping took longer than shutdown_timeout plus \(Int(Self.stopGrace)) s: exiting; what was not written returns to the queue when the lease expires")
            exit(1)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout + Self.stopGrace, execute: bound)
        stopAll(timeout: timeout)
        bound.cancel()
        // The last process on a SQLite database leaves no large WAL behind (a big transaction grew it).
        if let sqlite = store as? SQLiteJobStore, (try? sqlite.processList().isEmpty) == true { sqlite.truncateWAL() }
        logger.info("stopped", metadata: ["runs": .stringConvertible(pipeline.finishedRuns)])
        return 0
    }

    /// `--queues` names only queues that exist: a typo would otherwise leave a runner idle without a word.
    private func checkQueues(_ names: [String], registry: TaskRegistry, store: JobStore) throws(CrescentError) {
        let known: Set<String>
        do {
            known = try OperatorActions.knownQueues(config: config, tasks: Array(registry.current.tasks.values), store: store)
        } catch {
            throw .failed("cannot read the queues: \(error)")
        }
        if let error = OperatorActions.unknownQueues(names, known: known, what: "--queues") { throw error }
    }

    private func persist(_ registry: TaskRegistry, _ store: JobStore) {
        do { try registry.persist(to: store) } catch {
            logger.warning("could not record the loaded tasks in the database", metadata: ["error": "\(error)"])
        }
    }

    /// First SIGINT/SIGTERM: graceful stop. Second: exit at once. SIGHUP: `onHangup`
    /// (re-read the tasks directory), the process goes on.
    private func installSignalHandlers(onHangup: @escaping @Sendable () -> Void) {
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        hangup.setEventHandler { onHangup() }
        hangup.resume()
        signalSources.append(hangup)
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.stopLock.lock()
                self.signalCount += 1
                let count = self.signalCount
                self.stopLock.unlock()
                if count >= 2 {
                    self.logger.warning("second signal: exiting now; running jobs return to the queue when their lease expires")
                    exit(1)
                }
                self.requestStop()
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
