import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

/// The job pipeline of one `run` process: the Producer claims due jobs per queue (in priority
/// order, never more than the queue's free slots) and hands them to the Lua workers; the
/// Completer writes their outcomes, with side effects, in batches of one transaction each.
///
/// Both stages are plain threads: the hot path takes no actor hops. `NSCondition`s wake the
/// Producer when slots free up or jobs are pushed, and the Completer when results arrive.
public final class Pipeline: @unchecked Sendable {
    /// A job handed to a worker, remembered until its completion is written.
    /// Only what the completion needs (copying a whole `Job` and `TaskDefinition` per job
    /// was a measurable share of the Completer's time).
    struct InFlight {
        var id: Int64
        var attempt: Int
        var maxAttempts: Int
        var task: String
        var queue: String
        var retry: RetryPolicy
        var worker: Int
        var queueIndex: Int
        /// The claim's time: the attempt's `started_at` in the store.
        var startedAt: Date
    }

    /// The labels of a finished attempt's metrics: a batch reports once per key.
    struct MetricKey: Hashable {
        var task: String
        var queue: String
        var outcome: RunOutcome
    }

    struct QueueSlot {
        var name: String
        var concurrency: Int
        var inFlight = 0
    }

    let store: JobStore
    let registry: TaskRegistry
    let workers: [LuaWorker]
    let processID: String
    let logger: Logger
    /// Producer wait when nothing is due (another process may enqueue meanwhile).
    let pollInterval: Double
    /// How often an idle Producer checks whether another connection committed.
    let changePollInterval = 0.002
    let restricted: Bool
    let defaultConcurrency: Int
    let batchLimit = 512
    /// `run --limit`: never start more runs than this in total.
    let maxRuns: Int?
    private var started = 0                       // guarded by producerCond
    /// Tasks whose jobs were claimed while their file was missing; left alone until they return.
    private var missingTasks: Set<String> = []    // producer thread only

    private let producerCond = NSCondition()
    private var queues: [QueueSlot] = []          // guarded by producerCond
    private var running: [Int64: InFlight] = [:]  // guarded by producerCond
    private var workerLoad: [Int]                 // guarded by producerCond
    private var stopping = false                  // guarded by producerCond
    private var wakeRequested = false             // guarded by producerCond

    private let completerCond = NSCondition()
    private var results: [ExecResult] = []        // guarded by completerCond
    private var completerStopping = false         // guarded by completerCond
    private var finished = 0                      // guarded by completerCond

    private var producerThread: Thread?
    private var completerThread: Thread?
    private let threadsDone = DispatchGroup()

    /// Called on the Completer thread after each batch with the total runs finished so far.
    public var onFinished: (@Sendable (Int) -> Void)?

    public init(store: JobStore, registry: TaskRegistry, workers: [LuaWorker], processID: String,
                queues: [Config.Queue], restricted: Bool, defaultConcurrency: Int, maxRuns: Int? = nil,
                pollInterval: Double = 0.1, logger: Logger) {
        self.maxRuns = maxRuns
        self.store = store
        self.registry = registry
        self.workers = workers
        self.processID = processID
        self.restricted = restricted
        self.defaultConcurrency = defaultConcurrency
        self.pollInterval = pollInterval
        self.logger = logger
        self.workerLoad = Array(repeating: 0, count: workers.count)
        self.queues = queues.map { QueueSlot(name: $0.name, concurrency: $0.concurrency) }
    }

    public func start() {
        threadsDone.enter()
        threadsDone.enter()
        let producer = Thread { [self] in produceLoop(); threadsDone.leave() }
        producer.name = "crescent-producer"
        let completer = Thread { [self] in completeLoop(); threadsDone.leave() }
        completer.name = "crescent-completer"
        producerThread = producer
        completerThread = completer
        producer.start()
        completer.start()
    }

    /// Wakes the Producer now (a job was enqueued or a slot freed).
    public func wake() {
        producerCond.lock()
        wakeRequested = true
        producerCond.signal()
        producerCond.unlock()
    }

    public var busy: Int {
        producerCond.lock()
        defer { producerCond.unlock() }
        return running.count
    }

    public var finishedRuns: Int {
        completerCond.lock()
        defer { completerCond.unlock() }
        return finished
    }

    /// Which worker holds a running job (for cancel).
    public func cancel(jobIDs: [Int64]) {
        producerCond.lock()
        let targets = jobIDs.compactMap { id in running[id].map { (id, $0.worker) } }
        producerCond.unlock()
        for (id, worker) in targets { workers[worker].cancel(jobID: id) }
    }

    /// Graceful stop (SPEC §1): stop fetching, wait up to `timeout` for running jobs, then
    /// release what is left back to the queue (run outcome `released`).
    public func shutdown(timeout: Double) {
        producerCond.lock()
        stopping = true
        producerCond.broadcast()
        producerCond.unlock()

        let deadline = Date().addingTimeInterval(timeout)
        producerCond.lock()
        while !running.isEmpty && Date() < deadline {
            _ = producerCond.wait(until: min(deadline, Date().addingTimeInterval(0.05)))
        }
        let leftovers = Array(running.values)
        producerCond.unlock()

        if !leftovers.isEmpty {
            let now = Date()
            let releases = leftovers.map {
                JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: processID, startedAt: $0.startedAt, finishedAt: now,
                              outcome: .released)
            }
            do {
                _ = try store.jobCompleteMany(releases)
                logger.info("released running jobs at shutdown", metadata: ["count": "\(leftovers.count)"])
            } catch {
                logger.error("could not release running jobs; their lease will expire", metadata: ["error": "\(error)"])
            }
            // Forget them before aborting them, so their aborted attempts are not written (or logged) again.
            producerCond.lock()
            for item in leftovers { running.removeValue(forKey: item.id) }
            producerCond.unlock()
            for item in leftovers { workers[item.worker].cancel(jobID: item.id) }
        }

        completerCond.lock()
        completerStopping = true
        completerCond.broadcast()
        completerCond.unlock()
        threadsDone.wait()
    }

    // MARK: Producer

    /// Queues in fetch order: configured (or `--queues`) first, then queues named by tasks, then
    /// queues that only jobs name (`enqueue --queue adhoc`, `queue.push(..., {queue = ...})`).
    private func refreshQueues(due: [String]) {
        guard !restricted else { return }
        let named = Set(registry.current.tasks.values.map(\.queue))
        for name in named.sorted() + due.sorted() where !queues.contains(where: { $0.name == name }) {
            queues.append(QueueSlot(name: name, concurrency: defaultConcurrency))
        }
    }

    private func produceLoop() {
        var lastRefresh = Date.distantPast
        while true {
            // Read before claiming, so a commit by another process during the claims is seen.
            let version = try? store.dataVersion()
            var due: [String] = []
            if !restricted && Date().timeIntervalSince(lastRefresh) > 1 {
                due = (try? store.dueQueues(now: Date())) ?? []
            }
            producerCond.lock()
            if stopping { producerCond.unlock(); return }
            if Date().timeIntervalSince(lastRefresh) > 1 {
                refreshQueues(due: due)
                lastRefresh = Date()
            }
            // `--limit` budget: spent on what is actually claimed, so an empty queue earlier in
            // the order does not hold it back from the queues after it.
            var budget = maxRuns.map { $0 - started } ?? Int.max
            var wants: [(Int, String, Int)] = []
            for (i, q) in queues.enumerated() where q.concurrency > q.inFlight && budget > 0 {
                wants.append((i, q.name, min(batchLimit, q.concurrency - q.inFlight)))
            }
            producerCond.unlock()

            if !missingTasks.isEmpty {
                let loaded = registry.current.tasks
                missingTasks = missingTasks.filter { loaded[$0] == nil }
            }
            var claimed = 0
            for (index, name, free) in wants where budget > 0 {
                let jobs: [Job]
                let claimedAt = Date()
                do {
                    jobs = try store.jobClaim(JobClaimParams(queue: name, limit: min(free, budget), worker: processID, now: claimedAt,
                                                             excludeTasks: missingTasks.sorted()))
                } catch {
                    logger.error("claim failed", metadata: ["queue": "\(name)", "error": "\(error)"])
                    continue
                }
                budget -= jobs.count
                var orphans: [Int64] = []
                for job in jobs {
                    if let definition = registry.task(named: job.task) {
                        dispatch(job, definition, queueIndex: index, claimedAt: claimedAt)
                        claimed += 1
                    } else {
                        orphans.append(job.id)
                        if missingTasks.insert(job.task).inserted {
                            logger.warning("jobs wait for a missing task", metadata: ["task": "\(job.task)", "queue": "\(name)"])
                        }
                    }
                }
                if !orphans.isEmpty {
                    do { try store.jobUnclaim(ids: orphans, worker: processID) } catch {
                        logger.error("could not hand back jobs of a missing task; their lease will expire", metadata: ["error": "\(error)"])
                    }
                }
            }

            if claimed == 0 { waitForWork(version: version) }
        }
    }

    /// Idle wait of the Producer: until woken (a slot freed, a same-process enqueue or push),
    /// until another connection committed (`PRAGMA data_version` moved: `crescent enqueue`,
    /// another runner), or `pollInterval` at most (jobs that become due with time).
    private func waitForWork(version: Int64?) {
        let deadline = Date().addingTimeInterval(pollInterval)
        producerCond.lock()
        defer {
            wakeRequested = false
            producerCond.unlock()
        }
        while !wakeRequested && !stopping {
            let now = Date()
            guard now < deadline else { return }
            guard let version else {
                _ = producerCond.wait(until: deadline)
                continue
            }
            _ = producerCond.wait(until: min(deadline, now.addingTimeInterval(changePollInterval)))
            if wakeRequested || stopping { return }
            producerCond.unlock()
            let current = try? store.dataVersion()
            producerCond.lock()
            if current != version { return }
        }
    }

    private func dispatch(_ job: Job, _ definition: TaskDefinition, queueIndex: Int, claimedAt: Date) {
        producerCond.lock()
        var best = 0
        for i in workerLoad.indices where workerLoad[i] < workerLoad[best] { best = i }
        workerLoad[best] += 1
        started += 1
        queues[queueIndex].inFlight += 1
        running[job.id] = InFlight(id: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts, task: job.task, queue: job.queue,
                                   retry: definition.retry, worker: best, queueIndex: queueIndex, startedAt: claimedAt)
        producerCond.unlock()

        logger.debug("job started", metadata: [
            "job.id": .stringConvertible(job.id), "task": "\(job.task)", "queue": "\(job.queue)", "attempt": .stringConvertible(job.attempt),
        ])
        workers[best].submit(ExecRequest(job: job, ttl: definition.ttl)) { [self] result in
            completerCond.lock()
            results.append(result)
            completerCond.signal()
            completerCond.unlock()
        }
    }

    // MARK: Completer

    private func completeLoop() {
        while true {
            completerCond.lock()
            while results.isEmpty && !completerStopping { completerCond.wait() }
            if results.isEmpty && completerStopping { completerCond.unlock(); return }
            let batch = results
            results.removeAll(keepingCapacity: true)
            completerCond.unlock()
            complete(batch)
        }
    }

    private func complete(_ batch: [ExecResult]) {
        producerCond.lock()
        let items = batch.map { running[$0.jobID] }
        producerCond.unlock()

        var completions: [JobCompletion] = []
        completions.reserveCapacity(batch.count)
        for (result, item) in zip(batch, items) {
            guard let item else { continue }  // released at shutdown already
            completions.append(completion(for: result, of: item))
        }

        var applied: [Bool] = []
        var delay = 0.05
        while true {
            do {
                applied = try store.jobCompleteMany(completions)
                break
            } catch {
                logger.error("completion failed; retrying", metadata: ["error": "\(error)", "count": "\(completions.count)"])
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 2)
            }
        }

        producerCond.lock()
        for (result, item) in zip(batch, items) {
            guard let item, running.removeValue(forKey: result.jobID) != nil else { continue }
            workerLoad[item.worker] -= 1
            queues[item.queueIndex].inFlight -= 1  // queues only ever grow: the index stays valid
        }
        wakeRequested = true
        producerCond.broadcast()
        producerCond.unlock()

        // `completions` holds one entry per non-nil item, in the same order.
        let debug = logger.logLevel <= .debug
        var index = 0
        var durations: [MetricKey: [Double]] = [:]
        for item in items {
            guard let item else { continue }
            let completion = completions[index]
            let wasApplied = index < applied.count && applied[index]
            index += 1
            if debug || !wasApplied || !completion.outcome.isSuccess { log(completion, applied: wasApplied, item: item) }
            if wasApplied {
                let key = MetricKey(task: item.task, queue: item.queue, outcome: completion.outcome.runOutcome)
                durations[key, default: []].append(completion.finishedAt.timeIntervalSince(item.startedAt))
            }
        }
        for (key, seconds) in durations {
            CrescentMetrics.jobsFinished(task: key.task, queue: key.queue, outcome: key.outcome.rawValue, seconds: seconds)
        }
        CrescentMetrics.busyWorkers(busy)

        completerCond.lock()
        finished += batch.count
        let total = finished
        completerCond.unlock()
        onFinished?(total)
    }

    private func completion(for result: ExecResult, of item: InFlight) -> JobCompletion {
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
        return JobCompletion(jobID: item.id, attempt: item.attempt, worker: processID, startedAt: item.startedAt, finishedAt: now,
                             outcome: outcome,
                             pushes: result.pushes, storeWrites: result.storeWrites)
    }

    private func log(_ completion: JobCompletion, applied: Bool, item: InFlight) {
        var meta: Logger.Metadata = [
            "job.id": .stringConvertible(item.id), "task": "\(item.task)", "queue": "\(item.queue)",
            "attempt": .stringConvertible(item.attempt),
            "duration_ms": .stringConvertible(Int(completion.finishedAt.timeIntervalSince(item.startedAt) * 1000)),
        ]
        if !applied {
            logger.warning("job outcome rejected: the job is no longer this attempt of this process", metadata: meta)
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
        }
    }
}

extension CompletionOutcome {
    var isSuccess: Bool {
        if case .succeeded = self { return true }
        return false
    }

    /// The run outcome this completion records.
    var runOutcome: RunOutcome {
        switch self {
        case .succeeded: return .succeeded
        case .failed: return .failed
        case .snoozed: return .snoozed
        case .discarded: return .discarded
        case .aborted: return .aborted
        case .released: return .released
        }
    }
}
