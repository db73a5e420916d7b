import CrescentCore
import CrescentStore
import Foundation
import Logging

/// The periodic chores of a `run` process that may take long: the Pruner (retention). The
/// lease, rescues, cancel and stop requests are the `Heartbeat`'s, on a thread of its own, so
/// that a long prune never delays them.
public final class Maintenance: @unchecked Sendable {
    public struct Settings: Sendable {
        public var retentionSucceeded: Double
        public var retentionDead: Double
        public var pruneEvery: Double = 60
        public var pruneBatch: Int = 500
    }

    let store: JobStore
    let settings: Settings
    let logger: Logger

    private let lock = NSLock()
    private var stopping = false  // guarded by lock
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    public init(store: JobStore, settings: Settings, logger: Logger) {
        self.store = store
        self.settings = settings
        self.logger = logger
    }

    public func start() {
        let t = Thread { [self] in loop(); done.signal() }
        t.name = "crescent-maintenance"
        t.start()
    }

    public func stop() {
        lock.withLock { stopping = true }
        wake.signal()
        done.wait()
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func loop() {
        var lastPrune = -Double.infinity
        while !isStopping {
            let now = Monotonic.now()
            if now - lastPrune >= settings.pruneEvery {
                lastPrune = now
                prune(now: Date())
            }
            _ = wake.wait(timeout: .now() + 0.25)
        }
    }

    private func prune(now: Date) {
        for (state, age) in [(JobState.succeeded, settings.retentionSucceeded), (.dead, settings.retentionDead),
                             (.cancelled, settings.retentionDead), (.expired, settings.retentionDead)] {
            var total = 0
            while !isStopping {
                let n = (try? store.jobPrune(state: state, before: now.addingTimeInterval(-age), limit: settings.pruneBatch)) ?? 0
                total += n
                if n < settings.pruneBatch { break }
                Thread.sleep(forTimeInterval: 0.01)  // let the workers' writes through
            }
            if total > 0 { logger.info("pruned finished jobs", metadata: ["state": "\(state.rawValue)", "count": "\(total)"]) }
        }
    }
}
