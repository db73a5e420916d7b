import CrescentCore
import CrescentStore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The lease of a `run` process, on a thread of its own so that nothing else this process
/// does (pruning, a long completion) delays it: the heartbeat, the Rescuer (see `LeaseWatch`
/// for when another process's jobs may be taken), cancel requests for jobs running here,
/// `crescent stop` requests (for every process, or this one), `crescent quiet` requests, and a
/// check that the database file is still the one opened.
///
/// A process that cannot renew its lease stops claiming (`canClaim`). Should it find its row
/// gone (another process rescued its jobs while it could not write), it aborts the attempts
/// it no longer owns (their outcomes would be fenced out anyway) and registers again.
public final class Heartbeat: @unchecked Sendable {
    public struct Settings: Sendable {
        public var lease: Double
        public var interval: Double
        /// How often cancel and stop requests are looked for.
        public var tick: Double = 0.25
        public init(lease: Double, interval: Double) { self.lease = lease; self.interval = interval }
    }

    let store: JobStore
    let registry: TaskRegistry
    let process: WorkerProcess
    let settings: Settings
    let logger: Logger
    /// The database file watched for removal or replacement (nil: none).
    let databasePath: String?
    let busy: @Sendable () -> Int
    /// The job slots now (`Pipeline.capacity`).
    let capacity: @Sendable () -> Int
    /// The jobs running here, with their attempts.
    let running: @Sendable () -> [Int64: Int]
    let cancel: @Sendable ([Int64]) -> Void
    let onStopRequested: @Sendable () -> Void

    private let lock = NSLock()
    private var watch: LeaseWatch                // guarded by lock
    private var fileProblem: String?             // guarded by lock
    private var writeProblem: String?            // guarded by lock
    private var stopping = false                 // guarded by lock
    /// `crescent quiet --process`: claim nothing new, finish what runs.
    private var quiet = false                    // guarded by lock
    /// A stop request was seen and passed on (logged once).
    private var stopSeen = false                 // heartbeat thread only
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)
    private var identity: (dev: UInt64, ino: UInt64)?
    /// Failing reads of cancel and stop requests, and failing rescues (heartbeat thread only).
    private var requestsOutage = StoreOutage("reading cancel and stop requests")
    private var rescueOutage = StoreOutage("rescue")
    private var startedAt = Date()
    /// The tasks version last written to this process's row (heartbeat thread only).
    private var writtenTasksVersion = ""

    public init(store: JobStore, registry: TaskRegistry, process: WorkerProcess, settings: Settings, logger: Logger,
                databasePath: String?, busy: @escaping @Sendable () -> Int, capacity: @escaping @Sendable () -> Int = { 0 },
                running: @escaping @Sendable () -> [Int64: Int],
                cancel: @escaping @Sendable ([Int64]) -> Void, onStopRequested: @escaping @Sendable () -> Void) {
        self.store = store
        self.registry = registry
        self.process = process
        self.settings = settings
        self.logger = logger
        self.databasePath = databasePath
        self.busy = busy
        self.capacity = capacity
        self.running = running
        self.cancel = cancel
        self.onStopRequested = onStopRequested
        self.watch = LeaseWatch(lease: settings.lease)
    }

    /// Registers this process (its first heartbeat) and starts the thread.
    public func start() throws {
        startedAt = Date()
        identity = databasePath.flatMap(Self.fileIdentity)
        let first = current()
        try store.processRegister(first)
        writtenTasksVersion = first.tasksVersion
        lock.withLock { watch.renewed(at: Monotonic.now()) }
        let t = Thread { [self] in loop(); done.signal() }
        t.name = "crescent-heartbeat"
        t.start()
    }

    /// Ends the thread and removes this process's row.
    public func stop() {
        lock.withLock { stopping = true }
        wake.signal()
        done.wait()
        do {
            try store.processDeregister(id: process.id)
        } catch {
            logger.warning("could not deregister this process", metadata: ["error": "\(error)"])
        }
    }

    /// Whether the pipeline may start new attempts: the lease was renewed lately, the
    /// database file is the one opened, and this process was not quieted.
    public var canClaim: Bool {
        lock.withLock { !quiet && fileProblem == nil && watch.canClaim(at: Monotonic.now()) }
    }

    /// Whether `crescent quiet --process` quieted this process.
    public var isQuiet: Bool { lock.withLock { quiet } }

    /// Why this process is unhealthy (`/healthz` 503), or nil: the database file was removed or
    /// replaced, or the store could not write lately.
    public var problem: String? {
        lock.withLock {
            if let fileProblem { return fileProblem }
            if let writeProblem { return writeProblem }
            if !watch.canClaim(at: Monotonic.now()) {
                return "the lease was not renewed lately: the database cannot be written"
            }
            return nil
        }
    }

    // MARK: the loop

    private func loop() {
        var nextBeat = Monotonic.now() + settings.interval
        while true {
            let wait = max(0, min(settings.tick, nextBeat - Monotonic.now()))
            _ = wake.wait(timeout: .now() + wait)  // DispatchTime: monotonic
            if lock.withLock({ stopping }) { return }
            checkRequests()
            let now = Monotonic.now()
            if now >= nextBeat {
                nextBeat += settings.interval
                if nextBeat < now { nextBeat = now + settings.interval }
                checkFile()
                beat()
                rescue()
            }
        }
    }

    private func checkRequests() {
        do {
            let cancelled = try store.jobCancelRequested(worker: process.id)
            if !cancelled.isEmpty { cancel(cancelled) }
            let requests = try store.processRequests(id: process.id)
            if requests.contains(.quiet) && !lock.withLock({ quiet }) {
                lock.withLock { quiet = true }
                logger.info("quiet requested by crescent quiet: no new jobs; running ones finish")
            }
            if !stopSeen {
                if try store.stopRequested(since: startedAt) {
                    stopSeen = true
                    logger.info("stop requested by crescent stop")
                } else if requests.contains(.stop) {
                    stopSeen = true
                    logger.info("stop requested for this process by crescent stop --process")
                }
                if stopSeen { onStopRequested() }
            }
            requestsOutage.succeeded(logger: logger)
        } catch {
            requestsOutage.failed(error, logger: logger)
        }
    }

    private func beat() {
        do {
            let beat = ProcessBeat(busy: busy(), capacity: capacity(), rssBytes: ProcessMemory.residentBytes())
            CrescentMetrics.workerCapacity(beat.capacity ?? 0)
            let renewed = try store.leaseRenew(processID: process.id, beat: beat, now: Date())
            if !renewed {
                // Another process rescued this one's jobs (a rescue marks the row lost in the same
                // transaction): registering again replaces the lost row. With a fresh heartbeat:
                // the start time would look expired.
                let again = current()
                try store.processRegister(again)
                writtenTasksVersion = again.tasksVersion
                let owned = try store.jobsOwned(worker: process.id)
                let lost = running().filter { owned[$0.key] != $0.value }.map(\.key).sorted()
                logger.warning("this process lost its lease; registered again; aborting the attempts another process took over",
                               metadata: ["count": .stringConvertible(lost.count), "job.ids": "\(lost.map(String.init).joined(separator: ","))"])
                if !lost.isEmpty { cancel(lost) }
            }
            let loaded = registry.current.tasksVersion
            if loaded != writtenTasksVersion {
                // The task files were reloaded: the row shows the version now running.
                var changed = current()
                changed.tasksVersion = loaded
                try store.processRegister(changed)
                writtenTasksVersion = loaded
            }
            let now = Monotonic.now()
            let recovered = lock.withLock {
                watch.renewed(at: now)
                defer { writeProblem = nil }
                return writeProblem != nil
            }
            if recovered { logger.info("heartbeat written again") }
        } catch {
            let first = lock.withLock {
                defer { writeProblem = "cannot write to the database: \(error)" }
                return writeProblem == nil
            }
            if first { logger.error("heartbeat failed: this process claims no new jobs until it can write again", metadata: ["error": "\(error)"]) }
        }
    }

    /// This process's row as of now: a fresh heartbeat, what runs, the slots, the memory, the tasks loaded.
    private func current() -> WorkerProcess {
        var p = process
        p.heartbeatAt = Date()
        p.busy = busy()
        p.capacity = capacity()
        p.rssBytes = ProcessMemory.residentBytes()
        p.tasksVersion = registry.current.tasksVersion
        return p
    }

    private func rescue() {
        let registry = self.registry
        do {
            let view = try store.leaseView()
            let stale = lock.withLock { watch.observe(view, me: process.id, at: Monotonic.now()) }
            rescueOutage.succeeded(logger: logger)
            guard !stale.isEmpty else { return }
            let rescued = try store.jobRescue(stale: stale) { job in
                guard job.attempt < job.maxAttempts else { return nil }
                let policy = registry.task(named: job.task)?.retry ?? .default
                return Date().addingTimeInterval(policy.delay(afterAttempt: job.attempt))
            }
            if !rescued.isEmpty {
                logger.warning("rescued jobs of a lost process", metadata: [
                    "count": .stringConvertible(rescued.count), "job.ids": "\(rescued.map(String.init).joined(separator: ","))",
                    "processes": "\(stale.keys.sorted().joined(separator: ","))",
                ])
            }
        } catch {
            rescueOutage.failed(error, logger: logger)
        }
    }

    // MARK: the database file

    /// Device and inode of the file at `path`, or nil when it does not exist.
    static func fileIdentity(_ path: String) -> (dev: UInt64, ino: UInt64)? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_dev), UInt64(st.st_ino))
    }

    private func checkFile() {
        guard let path = databasePath, let opened = identity else { return }
        let now = Self.fileIdentity(path)
        let problem: String?
        if let now {
            problem = now.dev == opened.dev && now.ino == opened.ino
                ? nil : "the database file \(path) was replaced by another file"
        } else {
            problem = "the database file \(path) was removed"
        }
        let changed = lock.withLock {
            defer { fileProblem = problem }
            return fileProblem != problem
        }
        guard changed else { return }
        if let problem {
            logger.error("database file gone: this process claims no new jobs and reports unhealthy; restart it", metadata: ["error": "\(problem)"])
        } else {
            logger.info("database file back")
        }
    }
}
