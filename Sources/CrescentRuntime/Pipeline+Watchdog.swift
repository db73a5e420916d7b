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
                    if let stall = worker.stalled(now: now) {
                        self.abandon(stall, worker: index, reason: "ttl exceeded", message:
                            "a handler is stuck in a C call past its ttl: its attempt is recorded as aborted (ttl exceeded) and the runner exits for its process manager to restart it")
                    }
                }
            }
        }
        thread.name = "crescent-watchdog"
        thread.start()
    }

    /// At shutdown, for jobs whose VM was running them: cancelled (their outcome is written as
    /// `released`); a VM still in one `LuaWorker.stallGrace` later is stuck in C, and that
    /// attempt is recorded as `aborted` and counted, as the watchdog does.
    func settle(_ executing: [InFlight]) {
        for item in executing { workers[item.worker].cancel(jobID: item.id) }
        let deadline = Date().addingTimeInterval(LuaWorker.stallGrace)
        while Date() < deadline {
            cond.lock()
            let pending = executing.contains { running[$0.id] != nil }
            cond.unlock()
            if !pending { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
        for item in executing {
            guard let e = workers[item.worker].current, e.jobID == item.id else { continue }
            cond.lock()
            releasing.remove(item.id)
            cond.unlock()
            abandon(e, worker: item.worker, reason: "stuck in a C call at shutdown", message:
                "a handler stuck in a C call did not stop at shutdown: its attempt is recorded as aborted and the runner exits")
        }
    }

    private func abandon(_ stall: LuaWorker.Execution, worker: Int, reason: String, message: Logger.Message) -> Never {
        cond.lock()
        if abandoning {
            // The other caller exits the process.
            cond.unlock()
            while true { Thread.sleep(forTimeInterval: 1) }
        }
        abandoning = true
        let item = stall.jobID.flatMap { running[$0] }
        let others = running.values.filter { $0.id != stall.jobID }
        cond.unlock()
        let now = Date()
        var completions: [JobCompletion] = []
        var meta: Logger.Metadata = ["task": "\(stall.task)", "worker": .stringConvertible(worker)]
        if let jobID = stall.jobID {
            meta["job.id"] = .stringConvertible(jobID)
            meta["attempt"] = .stringConvertible(stall.attempt)
        }
        if let item {
            let result = ExecResult(jobID: item.id, attempt: item.attempt, outcome: .aborted(reason: reason),
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
        logger.critical(message, metadata: meta)
        exit(Self.stalledExitStatus)
    }
}
