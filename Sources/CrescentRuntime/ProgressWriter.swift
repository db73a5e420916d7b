import CrescentCore
import CrescentStore
import Foundation
import Logging
import Synchronization

/// Writes running jobs' `job:progress` to the store, at most once per `interval` per job:
/// handlers may report as often as they like; each job's latest value waits here and a
/// thread writes what changed once per interval, in one transaction. The last value of an
/// attempt is also written with its outcome (`JobCompletion.progress`), so nothing is lost
/// when the job ends between two writes. Writes are fenced (running, this attempt, this
/// process): a value written late for a job that has finished changes nothing.
final class ProgressWriter: @unchecked Sendable {
    let store: JobStore
    let worker: String
    let interval: Double
    private let logger: Logger
    private let pending = Mutex<[Int64: JobProgressUpdate]>([:])
    private let condition = MonotonicCondition()
    private var stopping = false  // guarded by condition
    private let exited = DispatchSemaphore(value: 0)
    private var started = false

    init(store: JobStore, worker: String, interval: Double = 1, logger: Logger) {
        self.store = store
        self.worker = worker
        self.interval = interval
        self.logger = logger
    }

    /// The latest progress of a running attempt (replaces one not yet written).
    func report(jobID: Int64, attempt: Int, progress: JobProgress) {
        pending.withLock { $0[jobID] = JobProgressUpdate(jobID: jobID, attempt: attempt, worker: worker, progress: progress) }
    }

    func start() {
        started = true
        let thread = Thread { [self] in loop() }
        thread.name = "crescent-progress"
        thread.start()
    }

    /// Stops the thread after writing what is pending.
    func stop() {
        guard started else { return }
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        exited.wait()
    }

    private func loop() {
        while true {
            condition.lock()
            if !stopping { _ = condition.wait(seconds: interval) }
            let stop = stopping
            condition.unlock()
            flush()
            if stop { break }
        }
        exited.signal()
    }

    /// Writes the pending values now; returns how many were sent (one per job at most).
    @discardableResult
    func flush() -> Int {
        let batch = pending.withLock { p -> [JobProgressUpdate] in
            defer { p.removeAll(keepingCapacity: true) }
            return p.values.sorted { $0.jobID < $1.jobID }
        }
        guard !batch.isEmpty else { return 0 }
        do {
            try store.jobProgressUpdate(batch)
        } catch {
            // Progress is advisory: a failed write is dropped (the next report or the outcome brings it).
            logger.debug("job progress not written", metadata: ["jobs": "\(batch.count)", "error": "\(error)"])
        }
        return batch.count
    }
}
