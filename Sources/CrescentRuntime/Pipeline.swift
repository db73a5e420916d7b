import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

/// The job pipeline of one `run` process. One thread runs its cycle: take the outcomes the
/// Lua workers have reported, and in one write transaction apply them (with their side
/// effects) and claim due jobs per queue (in priority order, never more than the queue's free
/// slots, counting the slots this cycle's outcomes free); after the commit, hand the claimed
/// jobs to the workers. While a cycle's transaction runs, the workers run the jobs claimed
/// before it and report into the next cycle, so the writer goes from one commit to the next
/// without waiting for another thread (a Producer and a Completer taking turns at the write
/// lock left it idle a quarter of the time, mostly in their handoffs).
///
/// What the next cycle does not wait for goes to a serial handoff queue after the commit:
/// registering the claimed jobs and handing them to the workers, forgetting finished ones,
/// logs and metrics. The cycle itself counts the slots, so the next claim sees them at once.
/// (That Swift work was ~15 % of the cycle thread's instructions; the other core, where the
/// Lua workers run, has room for it.)
///
/// The hot path takes no actor hops: an `NSCondition` wakes the cycle when outcomes arrive,
/// when jobs are enqueued or pushed in this process, and on shutdown.
public final class Pipeline: @unchecked Sendable {
    /// A job handed to a worker, remembered until its completion is written.
    /// Only what the completion needs (copying a whole `Job` and `TaskDefinition` per job
    /// was a measurable share of the completion's time).
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

    /// A queue to claim from in this cycle, at most `limit` jobs.
    struct Want {
        var index: Int
        var name: String
        var limit: Int
    }

    let store: JobStore
    let registry: TaskRegistry
    let workers: [LuaWorker]
    let processID: String
    let logger: Logger
    /// Idle wait when nothing is due (another process may enqueue meanwhile).
    let pollInterval: Double
    /// How often an idle cycle checks whether another connection committed.
    let changePollInterval = 0.002
    let restricted: Bool
    let defaultConcurrency: Int
    let batchLimit = 512
    /// `run --limit`: never start more runs than this in total.
    let maxRuns: Int?
    /// `[workers] max_jobs`: never more jobs in flight than this across all queues (served in order).
    let maxJobs: Int?
    /// Tasks whose jobs were claimed while their file was missing; left alone until they return.
    private var missingTasks: Set<String> = []    // guarded by cond

    let cond = MonotonicCondition()
    private var queues: [QueueSlot] = []          // guarded by cond
    var running: [Int64: InFlight] = [:]          // guarded by cond
    /// Jobs a shutdown cancelled while their VM was running them: their outcome is written as `released`.
    var releasing: Set<Int64> = []                // guarded by cond
    /// A stuck VM is being handled (see Pipeline+Watchdog); the process is about to exit.
    var abandoning = false                        // guarded by cond
    private var workerLoad: [Int]                 // guarded by cond
    private var started = 0                       // guarded by cond
    private var results: [ExecResult] = []        // guarded by cond
    private var finished = 0                      // guarded by cond
    /// No more claims (shutdown began); outcomes are still written.
    var stopping = false                  // guarded by cond
    /// Shutdown is over: write what has arrived and end the thread.
    private var finishing = false                 // guarded by cond
    private var wakeRequested = false             // guarded by cond
    /// A cycle that may claim is under way (its claims are not yet counted in `handing`).
    private var claimingCycle = false             // guarded by cond
    /// Jobs claimed and committed, not yet registered in `running` by the handoff queue.
    var handing = 0                       // guarded by cond

    /// Claims that failed lately (logged when it begins and ends: Pipeline+Outage.swift).
    var claimOutage = StoreOutage("claim")       // pipeline thread only
    /// A cycle's transaction with claims failed: they may have committed all the same (a
    /// connection lost during COMMIT), leaving jobs this process owns but never started.
    var claimsUncertain = false                  // pipeline thread only

    /// After-commit work, in commit order (see the type's comment).
    private let handoff = Handoff()

    private var thread: Thread?
    private let threadDone = DispatchSemaphore(value: 0)

    /// Whether new attempts may start (false while this process cannot renew its lease).
    public var canClaim: (@Sendable () -> Bool)?

    /// Called on the handoff thread after each cycle with outcomes, with the total runs finished so far.
    public var onFinished: (@Sendable (Int) -> Void)?

    public init(store: JobStore, registry: TaskRegistry, workers: [LuaWorker], processID: String,
                queues: [Config.Queue], restricted: Bool, defaultConcurrency: Int, maxRuns: Int? = nil,
                maxJobs: Int? = nil, pollInterval: Double = 0.1, logger: Logger) {
        self.maxRuns = maxRuns
        self.maxJobs = maxJobs
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
        // A wake-up another host's commit pushes (PostgreSQL's NOTIFY) ends an idle wait at
        // once, as a same-process enqueue does; `wakeToken` is still polled as the fallback.
        store.onWakeup { [weak self] in self?.wake() }
        handoff.start()
        startWatchdog()
        let thread = Thread { [self] in cycleLoop(); threadDone.signal() }
        thread.name = "crescent-pipeline"
        self.thread = thread
        thread.start()
    }

    /// Wakes the cycle now (a job was enqueued or pushed).
    public func wake() {
        cond.lock()
        wakeRequested = true
        cond.signal()
        cond.unlock()
    }

    public var busy: Int {
        cond.lock()
        defer { cond.unlock() }
        return running.count
    }

    /// The job slots: the concurrency of the queues served now, summed, capped by `max_jobs`.
    public var capacity: Int {
        cond.lock()
        defer { cond.unlock() }
        let slots = queues.reduce(0) { $0 + $1.concurrency }
        return maxJobs.map { min($0, slots) } ?? slots
    }

    public var finishedRuns: Int {
        cond.lock()
        defer { cond.unlock() }
        return finished
    }

    /// The jobs running here, with their attempts.
    public var runningAttempts: [Int64: Int] {
        cond.lock()
        defer { cond.unlock() }
        return running.mapValues(\.attempt)
    }

    /// Which worker holds a running job (for cancel).
    public func cancel(jobIDs: [Int64]) {
        cond.lock()
        let targets = jobIDs.compactMap { id in running[id].map { (id, $0.worker) } }
        cond.unlock()
        for (id, worker) in targets { workers[worker].cancel(jobID: id) }
    }

    /// Graceful stop (SPEC §1): stop claiming, wait up to `timeout` for running jobs, then
    /// release what is left back to the queue (run outcome `released`).
    public func shutdown(timeout: Double) {
        cond.lock()
        stopping = true
        cond.signal()
        cond.unlock()

        // Polled rather than waited on `cond`: its signals are the cycle's. Claims under way
        // are waited for even past the deadline (a cycle's transaction takes milliseconds),
        // so that every job claimed is either finished or released here.
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            cond.lock()
            let settled = !claimingCycle && handing == 0
            let idle = settled && running.isEmpty
            cond.unlock()
            if idle || (settled && Date() >= deadline) { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        handoff.drain()  // finished jobs forgotten, so they are not released
        cond.lock()
        // A job its VM is running right now is cancelled and released when its VM comes back;
        // one stuck in C is recorded by `settle` (released, it would hang every next runner).
        var executing: [InFlight] = []
        let leftovers = running.values.filter { item in
            guard let e = workers[item.worker].current, e.jobID == item.id else { return true }
            executing.append(item)
            releasing.insert(item.id)
            return false
        }
        cond.unlock()

        if !leftovers.isEmpty {
            let now = Date()
            let releases = leftovers.map {
                JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: processID, startedAt: $0.startedAt, finishedAt: now,
                              outcome: .released)
            }
            do {
                _ = try store.jobCompleteMany(releases)
                logger.info("released running jobs at shutdown", metadata: ["count": .stringConvertible(leftovers.count)])
            } catch {
                logger.error("could not release running jobs; their lease will expire", metadata: ["error": "\(error)"])
            }
            // Forget them before aborting them, so their aborted attempts are not written (or logged) again.
            cond.lock()
            for item in leftovers { running.removeValue(forKey: item.id) }
            cond.unlock()
            for item in leftovers { workers[item.worker].cancel(jobID: item.id) }
        }

        if !executing.isEmpty { settle(executing) }

        cond.lock()
        finishing = true
        cond.signal()
        cond.unlock()
        threadDone.wait()
        handoff.stop()  // after the last outcomes' logs, metrics and counts
    }

    // MARK: the cycle

    /// Queues in fetch order: configured (or `--queues`) first, then queues named by tasks, then
    /// queues that only jobs name (`enqueue --queue adhoc`, `queue.push(..., {queue = ...})`).
    private func refreshQueues(due: [String]) {
        guard !restricted else { return }
        let named = Set(registry.current.tasks.values.map(\.queue))
        for name in named.sorted() + due.sorted() where !queues.contains(where: { $0.name == name }) {
            queues.append(QueueSlot(name: name, concurrency: defaultConcurrency))
        }
    }

    private func cycleLoop() {
        var lastRefresh = Date.distantPast
        while true {
            if claimsUncertain { reconcileClaims() }
            // Read before claiming, so a commit by another process during the claims is seen.
            let version = try? store.wakeToken()
            let allowed = canClaim?() ?? true
            cond.lock()
            let claiming = !stopping && allowed
            cond.unlock()
            var due: [String] = []
            if claiming && !restricted && Date().timeIntervalSince(lastRefresh) > 1 {
                due = (try? store.dueQueues(now: Date())) ?? []
            }

            cond.lock()
            if finishing && results.isEmpty { cond.unlock(); return }
            if claiming && Date().timeIntervalSince(lastRefresh) > 1 {
                refreshQueues(due: due)
                lastRefresh = Date()
            }
            let batch = results
            results.removeAll(keepingCapacity: true)
            let items = batch.map { running[$0.jobID] }
            let releasingNow = releasing.isEmpty ? nil : releasing
            // The slots this cycle's outcomes free are claimed again in the same transaction.
            var freed = [Int](repeating: 0, count: queues.count)
            for item in items { if let item { freed[item.queueIndex] += 1 } }
            // `--limit` budget: spent on what is actually claimed, so an empty queue earlier in
            // the order does not hold it back from the queues after it.
            var budget = maxRuns.map { $0 - started } ?? Int.max
            // `max_jobs`: the process-wide cap; claims go in queue order, so the first queue with
            // due jobs takes the free slots.
            if let maxJobs { budget = min(budget, maxJobs - queues.reduce(0) { $0 + $1.inFlight } + freed.reduce(0, +)) }
            var wants: [Want] = []
            if claiming && budget > 0 {
                for (i, q) in queues.enumerated() where q.concurrency > q.inFlight - freed[i] {
                    wants.append(Want(index: i, name: q.name, limit: min(batchLimit, q.concurrency - q.inFlight + freed[i])))
                }
            }
            if !missingTasks.isEmpty {
                let loaded = registry.current.tasks
                missingTasks = missingTasks.filter { loaded[$0] == nil }
            }
            let excluded = missingTasks.sorted()
            claimingCycle = !wants.isEmpty
            cond.unlock()

            var completions: [JobCompletion] = []
            completions.reserveCapacity(batch.count)
            for (result, item) in zip(batch, items) {
                guard let item else { continue }  // released at shutdown already
                if let releasingNow, releasingNow.contains(item.id) {
                    completions.append(JobCompletion(jobID: item.id, attempt: item.attempt, worker: processID, startedAt: item.startedAt,
                                                     finishedAt: result.finishedAt, outcome: .released))
                    continue
                }
                completions.append(completion(for: result, of: item))
            }

            let claimedAt = Date()
            let claims = wants.map {
                JobClaimParams(queue: $0.name, limit: $0.limit, worker: processID, now: claimedAt, excludeTasks: excluded)
            }
            var applied: [Bool] = []
            var claimed: [[Job]] = []
            var conflicts: [Int] = []
            var failure: (any Error)?
            if !completions.isEmpty || !claims.isEmpty {
                do {
                    (applied, claimed, conflicts) = try store.jobCompleteAndClaim(completions, claims: claims, claimBudget: budget)
                } catch {
                    failure = error
                }
            }
            // The slots, now: the next cycle claims from these counts.
            let claimedCount = claimed.reduce(0) { $0 + $1.count }
            cond.lock()
            for (i, n) in freed.enumerated() where n > 0 { queues[i].inFlight -= n }
            for (want, jobs) in zip(wants, claimed) { queues[want.index].inFlight += jobs.count }
            started += claimedCount
            handing += claimedCount
            claimingCycle = false
            cond.unlock()
            if let failure {
                if !claims.isEmpty { claimsUncertain = true }
                if completions.isEmpty {
                    claimOutage.failed(failure, logger: logger, consequence: "trying again; jobs wait meanwhile",
                                       metadata: ["queues": "\(wants.map(\.name))"])
                } else {
                    (applied, conflicts) = completeRetrying(completions, after: failure)
                }
            } else if !claims.isEmpty {
                claimOutage.succeeded(logger: logger)
            }

            if !batch.isEmpty || claimedCount > 0 {
                handoff.async { [self, completions, applied, conflicts, wants, claimed] in
                    if !batch.isEmpty { finish(batch, items: items, completions: completions, applied: applied, conflicts: conflicts) }
                    for (want, jobs) in zip(wants, claimed) where !jobs.isEmpty {
                        dispatch(jobs, queueIndex: want.index, claimedAt: claimedAt)
                    }
                }
            }
            if batch.isEmpty && claimedCount == 0 { waitForWork(version: version) }
        }
    }

    /// The cycle's transaction failed: its completions alone, retried until they commit (an
    /// outcome is never dropped); claims wait for the next cycle.
    private func completeRetrying(_ completions: [JobCompletion], after error: any Error) -> (applied: [Bool], conflicts: [Int]) {
        var error = error
        var delay = 0.05
        var outage = StoreOutage("completion")
        while true {
            // Shutdown is over (its deadline passed): say what was not written and stop trying.
            if cond.withLock({ finishing }) {
                logger.error("could not write these outcomes before stopping; their jobs run again once the lease expires", metadata: [
                    "error": "\(error)", "job.ids": "\(completions.map { String($0.jobID) }.joined(separator: ","))",
                ])
                return (Array(repeating: false, count: completions.count), [])
            }
            outage.failed(error, logger: logger, metadata: ["count": .stringConvertible(completions.count)])
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, 2)
            do {
                let done = try store.jobCompleteAndClaim(completions, claims: [], claimBudget: 0)
                outage.succeeded(logger: logger)
                return (done.applied, done.conflicts)
            } catch let next {
                error = next
            }
        }
    }

    /// Idle wait: until outcomes arrive, a wake (a same-process enqueue or push), another
    /// connection's commit (`PRAGMA data_version` moved: `crescent enqueue`, another runner),
    /// or `pollInterval` at most (jobs that become due with time). Once stopping, only
    /// outcomes and the end of the shutdown end it.
    private func waitForWork(version: Int64?) {
        let deadline = Monotonic.now() + pollInterval
        cond.lock()
        defer {
            wakeRequested = false
            cond.unlock()
        }
        while results.isEmpty && !finishing {
            if stopping {
                cond.wait()
                continue
            }
            if wakeRequested { return }
            let now = Monotonic.now()
            guard now < deadline else { return }
            guard let version else {
                cond.wait(seconds: deadline - now)
                continue
            }
            cond.wait(seconds: min(deadline - now, changePollInterval))
            if wakeRequested || !results.isEmpty || stopping { continue }
            cond.unlock()
            let current = try? store.wakeToken()
            cond.lock()
            if current != version { return }
        }
    }

    /// On the handoff queue: hands claimed jobs to the least loaded workers; jobs of a task
    /// that is not loaded go back to the queue (and give their slots back).
    private func dispatch(_ jobs: [Job], queueIndex: Int, claimedAt: Date) {
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
            running[job.id] = InFlight(id: job.id, attempt: job.attempt, maxAttempts: job.maxAttempts, task: job.task, queue: job.queue,
                                       retry: definition.retry, worker: best, queueIndex: queueIndex, startedAt: claimedAt)
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
                cond.signal()
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
    private func finish(_ batch: [ExecResult], items: [InFlight?], completions: [JobCompletion], applied: [Bool],
                        conflicts: [Int]) {
        cond.lock()
        for (result, item) in zip(batch, items) {
            guard let item, running.removeValue(forKey: result.jobID) != nil else { continue }
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
