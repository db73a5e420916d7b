import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

extension Pipeline {
    /// The exit status of a runner that ended itself because a VM got stuck (EX_SOFTWARE).
    public static let stalledExitStatus: Int32 = 70

    /// Watches the Lua workers: a VM that has not come back from one call `LuaWorker.stallGrace`
    /// past its attempt's ttl is stuck in C (the count hook stops Lua code at the deadline),
    /// and no thread stuck in C can be stopped. So the runner records that attempt as
    /// `aborted` (`ttl exceeded`), counting it like any other (a poison job ends `dead`),
    /// releases the other running jobs back to their queues, logs one line naming the job and
    /// task, and exits with status 70 for its process manager to restart it.
    /// Runs for as long as the pipeline lives (also during shutdown, which a stuck VM blocks).
    func startWatchdog() {
        let thread = Thread { [weak self] in
            while true {
                Thread.sleep(forTimeInterval: 0.25)
                guard let self else { return }
                let now = LuaWorker.now
                for (index, worker) in self.workers.enumerated() {
                    if let stall = worker.stalled(now: now) { self.abandon(stall, worker: index) }
                }
            }
        }
        thread.name = "crescent-watchdog"
        thread.start()
    }

    private func abandon(_ stall: LuaWorker.Execution, worker: Int) -> Never {
        cond.lock()
        let item = stall.jobID.flatMap { running[$0] }
        let others = running.values.filter { $0.id != stall.jobID }
        cond.unlock()
        let now = Date()
        var completions: [JobCompletion] = []
        var meta: Logger.Metadata = ["task": "\(stall.task)", "worker": "\(worker)"]
        if let jobID = stall.jobID {
            meta["job.id"] = .stringConvertible(jobID)
            meta["attempt"] = .stringConvertible(stall.attempt)
        }
        if let item {
            let result = ExecResult(jobID: item.id, attempt: item.attempt, outcome: .aborted(reason: "ttl exceeded"),
                                    startedAt: item.startedAt, finishedAt: now)
            let c = completion(for: result, of: item)
            completions.append(c)
            if case .aborted(_, let retryAt) = c.outcome { meta["retry_at"] = "\(retryAt.map(TimeText.format) ?? "none: dead")" }
        }
        completions += others.map {
            JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: processID, startedAt: $0.startedAt, finishedAt: now, outcome: .released)
        }
        if !completions.isEmpty {
            do { _ = try store.jobCompleteMany(completions) } catch { meta["store_error"] = "\(error)" }
        }
        logger.critical(
            "a handler is stuck in a C call past its ttl: its attempt is recorded as aborted (ttl exceeded) and the runner exits for its process manager to restart it",
            metadata: meta)
        exit(Self.stalledExitStatus)
    }
}
