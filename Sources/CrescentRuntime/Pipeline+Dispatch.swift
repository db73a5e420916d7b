import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

/// The handoff queue's work after a commit: claimed jobs to the workers, finished ones forgotten.
extension Pipeline {
    /// On the handoff queue: hands claimed jobs to the least loaded workers; jobs of a task
    /// that is not loaded go back to the queue (and give their slots back).
    func dispatch(_ jobs: [Job], queueIndex: Int, claimedAt: Date) {
        var handed: [(Job, TaskDefinition, Int)] = []
        handed.reserveCapacity(jobs.count)
        var orphans: [Job] = []
        let tasks = registry.current.tasks
        cond.lock()
        for job in jobs {
            guard let definition = tasks[job.task] else {
                orphans.append(job)
                continue
            }
            var best = 0
            for i in workerLoad.indices where workerLoad[i] < workerLoad[best] { best = i }
            workerLoad[best] += 1
            dispatched += 1
            running[job.id] = InFlight(id: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts, task: job.task, queue: job.queue,
                                       retry: definition.retry, worker: best, queueIndex: queueIndex, startedAt: claimedAt,
                                       ticket: dispatched)
            handed.append((job, definition, best))
        }
        handing -= jobs.count
        queues[queueIndex].inFlight -= orphans.count
        started -= orphans.count
        var newlyMissing: [Job] = []
        for job in orphans where missingTasks.insert(job.task).inserted { newlyMissing.append(job) }
        cond.unlock()

        let debug = logger.logLevel <= .debug
        var requests = [[ExecRequest]](repeating: [], count: workers.count)
        for (job, definition, worker) in handed {
            if debug {
                logger.debug("job started", metadata: [
                    "job.id": .stringConvertible(job.id), "task": "\(job.task)", "queue": "\(job.queue)",
                    "attempt": .stringConvertible(job.attempt),
                ])
            }
            requests[worker].append(ExecRequest(job: job, ttl: definition.ttl))
        }
        // One post per worker: a wake per job cost a futex call whenever the worker had
        // already caught up with the previous one.
        for (worker, batch) in requests.enumerated() {
            workers[worker].submit(batch) { [self] result in
                cond.lock()
                results.append(result)
                outcomesArrived.signal()
                cond.unlock()
            }
        }
        for job in newlyMissing {
            logger.warning("jobs wait for a missing task", metadata: ["task": "\(job.task)", "queue": "\(job.queue)"])
        }
        if !orphans.isEmpty {
            do { try store.jobUnclaim(ids: orphans.map(\.id), worker: processID) } catch {
                logger.error("could not hand back jobs of a missing task; their lease will expire", metadata: ["error": "\(error)"])
            }
        }
    }

    /// On the handoff queue, after a cycle's commit: forgets the jobs whose outcomes it wrote
    /// (their slots are counted by the cycle), then logs and reports them.
    func finish(_ batch: [ExecResult], items: [InFlight?], completions: [JobCompletion], applied: [Bool],
                        conflicts: [Int]) {
        cond.lock()
        for (result, item) in zip(batch, items) {
            guard let item, let current = running[result.jobID] else { continue }  // released at shutdown
            // With two threads (Pipeline+Lanes) the job, queued again by this outcome (a
            // conflict, a retry due now), may already be claimed and handed out again.
            if current.ticket == item.ticket { running.removeValue(forKey: result.jobID) }
            workerLoad[item.worker] -= 1
        }
        finished += batch.count
        let total = finished
        let busy = running.count
        cond.unlock()

        // `completions` holds one entry per non-nil item, in the same order.
        let debug = logger.logLevel <= .debug
        var index = 0
        var durations: [MetricKey: [Double]] = [:]
        let conflicted = Set(conflicts)
        for item in items {
            guard let item else { continue }
            var completion = completions[index]
            if conflicted.contains(index) { completion.outcome = .conflict }
            let wasApplied = index < applied.count && applied[index]
            index += 1
            if debug || !wasApplied || !completion.outcome.isSuccess { log(completion, applied: wasApplied, item: item) }
            guard wasApplied else { continue }
            let key = MetricKey(task: item.task, queue: item.queue, outcome: completion.outcome.runOutcome)
            durations[key, default: []].append(completion.finishedAt.timeIntervalSince(item.startedAt))
        }
        for (key, seconds) in durations {
            CrescentMetrics.jobsFinished(task: key.task, queue: key.queue, outcome: key.outcome.rawValue, seconds: seconds)
        }
        CrescentMetrics.busyWorkers(busy)
        onFinished?(total)
    }
}
