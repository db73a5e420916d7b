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
        while true {
            prune(now: Date())
            guard pause(settings.every) else { return }
        }
    }

    private func prune(now: Date) {
        for (state, age) in [(JobState.succeeded, settings.retentionSucceeded), (.dead, settings.retentionDead),
                             (.cancelled, settings.retentionDead), (.expired, settings.retentionDead)] {
            var total = 0
            var failed = false
            var stopped = false
            while true {
                let began = DispatchTime.now().uptimeNanoseconds
                let n: Int
                do {
                    n = try store.jobPrune(state: state, before: now.addingTimeInterval(-age), limit: settings.batch)
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
