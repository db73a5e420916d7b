import CrescentCore
import CrescentStore
import Foundation
import Logging

/// Retention: deletes finished jobs (with their runs) older than `[retention]`, on its own
/// thread so that no other chore (heartbeats, rescue, cancel and stop requests) waits
/// behind it. It deletes in small batches, one short transaction each, and pauses between
/// them: longer while the pipeline is busy (`load` > 0), so a drain keeps the writer.
public final class Pruner: @unchecked Sendable {
    public struct Settings: Sendable {
        public var retentionSucceeded: Double
        public var retentionDead: Double
        /// Seconds between passes.
        public var every: Double = 60
        /// Jobs per transaction.
        public var batch: Int = 200
        /// While the pipeline is busy, the pause after a batch is this many times the
        /// batch's own time: the writer spends at most 1/(1+ratio) of its time pruning.
        public var busyRatio: Double = 6
        /// The pause after a batch while the pipeline is idle.
        public var idlePause: Double = 0.002

        /// Seconds between the quick passes: jobs past `expires` that wait (behind a full
        /// queue, say) become `expired`, and succeeded jobs of tasks whose retention is `"0s"`
        /// go.
        public var quickEvery: Double = 1
        /// How long a lost process's row stays listed (`WorkerProcess.lostRetention`), and how
        /// often rows past it are looked for.
        public var lostProcessRetention: Double = WorkerProcess.lostRetention
        public var lostProcessEvery: Double = 10
        /// Each task's `retention` (only those that set one), read at every pass.
        public var taskRetention: @Sendable () -> [String: TaskRetention] = { [:] }

        public init(retentionSucceeded: Double, retentionDead: Double) {
            self.retentionSucceeded = retentionSucceeded
            self.retentionDead = retentionDead
        }
    }

    let store: JobStore
    let settings: Settings
    let logger: Logger
    let load: @Sendable () -> Int

    private let cond = MonotonicCondition()
    private var stopping = false
    private var started = false
    private let done = DispatchSemaphore(value: 0)
    /// Passes failing on the store (pruner thread only): logged when it begins and ends.
    private var outage = StoreOutage("prune")

    public init(store: JobStore, settings: Settings, logger: Logger, load: @escaping @Sendable () -> Int) {
        self.store = store
        self.settings = settings
        self.logger = logger
        self.load = load
    }

    public func start() {
        started = true
        let t = Thread { [self] in loop(); done.signal() }
        t.name = "crescent-pruner"
        t.start()
    }

    /// Stops between two batches (a batch in progress finishes first).
    public func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
        if started { done.wait() }
    }

    /// Waits up to `seconds`; false once stopping.
    private func pause(_ seconds: Double) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        if !stopping && seconds > 0 { cond.wait(seconds: seconds) }
        return !stopping
    }

    private func loop() {
        // The first pass a moment after start: the pipeline's first claims go first.
        guard pause(0.25) else { return }
        var lastFull: Double = -.infinity
        var lastLost: Double = -.infinity
        while true {
            let now = Date()
            let tick = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
            quick(now: now)
            if tick - lastLost >= settings.lostProcessEvery {
                lastLost = tick
                pruneLostProcesses(now: now)
            }
            if tick - lastFull >= settings.every {
                lastFull = tick
                prune(now: now)
            }
            guard pause(settings.quickEvery) else { return }
        }
    }

    /// Expires waiting jobs past their `expires_at`, and removes the succeeded jobs of tasks
    /// with `retention = { succeeded = "0s" }` (Kue's removeOnComplete), a batch each.
    private func quick(now: Date) {
        do {
            let expired = try store.jobExpire(now: now, limit: settings.batch * 5)
            if expired > 0 { logger.info("expired waiting jobs", metadata: ["count": "\(expired)"]) }
            let immediate = settings.taskRetention().filter { $0.value.succeeded == 0 }.keys.sorted()
            if !immediate.isEmpty {
                _ = try store.jobPrune(state: .succeeded, before: now.addingTimeInterval(1), limit: settings.batch * 5,
                                       tasks: immediate, excluding: [])
            }
            outage.succeeded(logger: logger)
        } catch {
            outage.failed(error, logger: logger, consequence: "trying again on the next pass", metadata: [:])
        }
    }

    /// Deletes the rows of processes lost longer ago than `lostProcessRetention` (one short
    /// statement: a handful of rows at most).
    private func pruneLostProcesses(now: Date) {
        do {
            let n = try store.processPruneLost(before: now.addingTimeInterval(-settings.lostProcessRetention), limit: settings.batch)
            if n > 0 { logger.info("removed lost processes from the processes list", metadata: ["count": .stringConvertible(n)]) }
            outage.succeeded(logger: logger)
        } catch {
            outage.failed(error, logger: logger, consequence: "trying again on the next pass", metadata: [:])
        }
    }

    private func prune(now: Date) {
        let overrides = settings.taskRetention()
        var passes: [(JobState, Double, [String]?, [String])] = []
        for (state, age) in [(JobState.succeeded, settings.retentionSucceeded), (.dead, settings.retentionDead),
                             (.cancelled, settings.retentionDead), (.expired, settings.retentionDead)] {
            let own = overrides.filter { $0.value.seconds(for: state) != nil }
            passes.append((state, age, nil, own.keys.sorted()))
            // Tasks with their own retention for this state, grouped by it.
            for (taskAge, tasks) in Dictionary(grouping: own.keys.sorted(), by: { own[$0]!.seconds(for: state)! }) {
                passes.append((state, taskAge, tasks, []))
            }
        }
        for (state, age, tasks, excluding) in passes {
            var total = 0
            var failed = false
            var stopped = false
            while true {
                let began = DispatchTime.now().uptimeNanoseconds
                let n: Int
                do {
                    n = try store.jobPrune(state: state, before: now.addingTimeInterval(-age), limit: settings.batch,
                                           tasks: tasks, excluding: excluding)
                } catch {
                    outage.failed(error, logger: logger, consequence: "trying again on the next pass", metadata: ["state": "\(state.rawValue)"])
                    failed = true
                    break
                }
                outage.succeeded(logger: logger)
                total += n
                if n < settings.batch { break }
                let took = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
                let rest = load() > 0 ? max(took * settings.busyRatio, 0.01) : settings.idlePause
                guard pause(rest) else { stopped = true; break }
            }
            if total > 0 { logger.info("pruned finished jobs", metadata: ["state": "\(state.rawValue)", "count": .stringConvertible(total)]) }
            if failed || stopped { return }
        }
    }
}
