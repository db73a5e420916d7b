import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

/// A worker's outcome turned into the store's completion, and its log line once written.
extension Pipeline {
    func completion(for result: ExecResult, of item: InFlight) -> JobCompletion {
        let now = result.finishedAt
        // Drawn only for failures: the jitter's random number is not free.
        var retryAt: Date? {
            item.attempt < item.maxAttempts ? now.addingTimeInterval(item.retry.delay(afterAttempt: item.attempt)) : nil
        }
        let outcome: CompletionOutcome
        switch result.outcome {
        case .succeeded(let value): outcome = .succeeded(result: value)
        case .failed(let message, let traceback): outcome = .failed(error: message, traceback: traceback, retryAt: retryAt)
        case .snoozed(let seconds): outcome = .snoozed(until: now.addingTimeInterval(seconds))
        case .discarded(let reason): outcome = .discarded(reason: reason)
        case .aborted(let reason): outcome = .aborted(error: reason, retryAt: reason == "cancelled" ? nil : retryAt)
        }
        var completion = JobCompletion(jobID: item.id, attempt: item.attempt, worker: processID, startedAt: item.startedAt,
                                       finishedAt: now, outcome: outcome,
                                       pushes: result.pushes, storeWrites: result.storeWrites, storeReads: result.storeReads,
                                       progress: result.progress)
        completion.queue = item.queue
        if outcome.isSuccess, registry.task(named: item.task)?.retention.succeeded == 0 { completion.removeOnSuccess = true }
        return completion
    }

    func log(_ completion: JobCompletion, applied: Bool, item: InFlight) {
        var meta: Logger.Metadata = [
            "job.id": .stringConvertible(item.id), "task": "\(item.task)", "queue": "\(item.queue)",
            "attempt": .stringConvertible(item.attempt),
            "duration_ms": .stringConvertible(Int(completion.finishedAt.timeIntervalSince(item.startedAt) * 1000)),
        ]
        if !applied {
            // Fenced out (another process rescued the job): nothing of the attempt was written.
            meta["dropped_pushes"] = .stringConvertible(completion.pushes.count)
            meta["dropped_store_writes"] = .stringConvertible(completion.storeWrites.count)
            logger.warning("job outcome rejected: the job is no longer this attempt of this process; its pushes and store writes were dropped", metadata: meta)
            return
        }
        switch completion.outcome {
        case .succeeded:
            logger.debug("job succeeded", metadata: meta)
        case .failed(let error, _, let retryAt), .aborted(let error, let retryAt):
            meta["error"] = "\(error)"
            if let retryAt { meta["retry_at"] = "\(TimeText.format(retryAt))" }
            logger.warning(retryAt == nil ? "job failed for good" : "job failed; will retry", metadata: meta)
        case .snoozed(let until):
            meta["until"] = "\(TimeText.format(until))"
            logger.debug("job snoozed", metadata: meta)
        case .discarded(let reason):
            meta["error"] = "\(reason)"
            logger.warning("job discarded", metadata: meta)
        case .released:
            logger.info("job released", metadata: meta)
        case .conflict:
            logger.debug("job runs again: a store key it read was changed by another job before its commit", metadata: meta)
        }
    }
}

extension CompletionOutcome {
    /// The run outcome this completion records.
    var runOutcome: RunOutcome {
        switch self {
        case .succeeded: return .succeeded
        case .failed: return .failed
        case .snoozed: return .snoozed
        case .discarded: return .discarded
        case .aborted: return .aborted
        case .released: return .released
        case .conflict: return .conflict
        }
    }
}

/// The pipeline's handoff queue: one thread running submitted work in order.
final class Handoff: @unchecked Sendable {
    private let cond = NSCondition()
    private var work: [() -> Void] = []  // guarded by cond
    private var busy = false             // guarded by cond
    private var stopping = false         // guarded by cond
    private var started = false          // guarded by cond
    private let done = DispatchSemaphore(value: 0)

    func start() {
        cond.lock()
        started = true
        cond.unlock()
        let thread = Thread { [self] in loop() }
        thread.name = "crescent-handoff"
        thread.start()
    }

    func async(_ item: @escaping () -> Void) {
        cond.lock()
        work.append(item)
        cond.broadcast()
        cond.unlock()
    }

    /// Waits until everything submitted so far has run.
    func drain() {
        cond.lock()
        while !work.isEmpty || busy { cond.wait() }
        cond.unlock()
    }

    /// Runs what was submitted, then ends the thread.
    func stop() {
        cond.lock()
        stopping = true
        let wait = started
        cond.broadcast()
        cond.unlock()
        if wait { done.wait() }
    }

    private func loop() {
        while true {
            cond.lock()
            while work.isEmpty {
                busy = false
                cond.broadcast()
                if stopping { cond.unlock(); done.signal(); return }
                cond.wait()
            }
            let items = work
            work.removeAll(keepingCapacity: true)
            busy = true
            cond.unlock()
            for item in items { item() }
        }
    }
}
