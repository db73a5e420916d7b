import CrescentCore
import CrescentStore
import Foundation
import Logging

/// The periodic chores of a `run` process: heartbeat (its lease), the Rescuer (jobs of
/// processes whose lease expired go back to the queue), cancel requests for jobs running
/// here, and `crescent stop` requests. Retention is the `Pruner`'s, on its own thread.
public final class Maintenance: @unchecked Sendable {
    public struct Settings: Sendable {
        public var lease: Double
        public var heartbeat: Double
    }

    let store: JobStore
    let registry: TaskRegistry
    let process: WorkerProcess
    let settings: Settings
    let logger: Logger
    let busy: @Sendable () -> Int
    let cancel: @Sendable ([Int64]) -> Void
    let onStopRequested: @Sendable () -> Void

    private let cond = NSCondition()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    public init(store: JobStore, registry: TaskRegistry, process: WorkerProcess, settings: Settings, logger: Logger,
                busy: @escaping @Sendable () -> Int, cancel: @escaping @Sendable ([Int64]) -> Void,
                onStopRequested: @escaping @Sendable () -> Void) {
        self.store = store
        self.registry = registry
        self.process = process
        self.settings = settings
        self.logger = logger
        self.busy = busy
        self.cancel = cancel
        self.onStopRequested = onStopRequested
    }

    public func start() throws {
        try store.processRegister(process)
        let t = Thread { [self] in loop(); done.signal() }
        t.name = "crescent-maintenance"
        t.start()
    }

    public func stop() {
        cond.lock()
        stopping = true
        cond.signal()
        cond.unlock()
        done.wait()
        do {
            try store.processDeregister(id: process.id)
        } catch {
            logger.warning("could not deregister this process", metadata: ["error": "\(error)"])
        }
    }

    private func loop() {
        var lastBeat = Date()
        let startedAt = Date()
        while true {
            cond.lock()
            if !stopping { _ = cond.wait(until: Date().addingTimeInterval(0.25)) }
            let stop = stopping
            cond.unlock()
            if stop { return }
            let now = Date()
            do {
                if now.timeIntervalSince(lastBeat) >= settings.heartbeat {
                    lastBeat = now
                    if try !store.leaseRenew(processID: process.id, busy: busy(), now: now) {
                        logger.warning("this process lost its lease; registering again")
                        // With a fresh heartbeat: the start time would look expired at once,
                        // and other processes would rescue every job this one claims.
                        var again = process
                        again.heartbeatAt = now
                        again.busy = busy()
                        try store.processRegister(again)
                    }
                    rescue(now: now)
                }
                let cancelled = try store.jobCancelRequested(worker: process.id)
                if !cancelled.isEmpty { cancel(cancelled) }
                if try store.stopRequested(since: startedAt) {
                    logger.info("stop requested by crescent stop")
                    onStopRequested()
                }
            } catch {
                logger.error("maintenance failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func rescue(now: Date) {
        let registry = self.registry
        do {
            let rescued = try store.jobRescue(before: now.addingTimeInterval(-settings.lease)) { job in
                guard job.attempt < job.maxAttempts else { return nil }
                let policy = registry.task(named: job.task)?.retry ?? .default
                return Date().addingTimeInterval(policy.delay(afterAttempt: job.attempt))
            }
            if !rescued.isEmpty {
                logger.warning("rescued jobs of a lost process", metadata: ["count": "\(rescued.count)", "job.ids": "\(rescued.map(String.init).joined(separator: ","))"])
            }
        } catch {
            logger.error("rescue failed", metadata: ["error": "\(error)"])
        }
    }
}
