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
///
/// That one transaction suits a store with one writer (SQLite). A store whose connections
/// write at the same time (PostgreSQL) gets two threads instead, one writing outcomes and
/// one claiming, each on its own connection (Pipeline+Lanes.swift).
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
        /// Which hand-out this is (a job can be claimed again, same attempt, after a conflict).
        var ticket: Int
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
    var missingTasks: Set<String> = []    // guarded by cond

    let cond = MonotonicCondition()
    var queues: [QueueSlot] = []          // guarded by cond
    var running: [Int64: InFlight] = [:]          // guarded by cond
    /// Jobs a shutdown cancelled while their VM was running them: their outcome is written as `released`.
    var releasing: Set<Int64> = []                // guarded by cond
    /// A stuck VM is being handled (see Pipeline+Watchdog); the process is about to exit.
    var abandoning = false                        // guarded by cond
    var workerLoad: [Int]                 // guarded by cond
    var started = 0                       // guarded by cond
    var results: [ExecResult] = []        // guarded by cond
    var finished = 0                      // guarded by cond
    /// No more claims (shutdown began); outcomes are still written.
    var stopping = false                  // guarded by cond
    /// Shutdown is over: write what has arrived and end the thread.
    var finishing = false                 // guarded by cond
    var wakeRequested = false             // guarded by cond
    /// A cycle that may claim is under way (its claims are not yet counted in `handing`).
    var claimingCycle = false             // guarded by cond
    /// Jobs claimed and committed, not yet registered in `running` by the handoff queue.
    var handing = 0                       // guarded by cond
    /// Jobs handed to the workers so far (`InFlight.ticket`).
    var dispatched = 0                    // guarded by cond

    /// Claims that failed lately (logged when it begins and ends: Pipeline+Outage.swift).
    var claimOutage = StoreOutage("claim")       // pipeline thread only
    /// A cycle's transaction with claims failed: they may have committed all the same (a
    /// connection lost during COMMIT), leaving jobs this process owns but never started.
    var claimsUncertain = false                  // pipeline thread only

    /// After-commit work, in commit order (see the type's comment).
    let handoff = Handoff()

    /// Whether outcomes and claims are written by two threads (Pipeline+Lanes.swift).
    let lanes: Bool
    /// Signalled when outcomes arrive: `cond` itself, or with `lanes` the completion thread's
    /// own condition (on `cond`'s lock), so that outcomes do not wake the claim thread.
    let outcomesArrived: MonotonicCondition
    /// With `lanes`: the completion thread committed since the claim thread planned its claims.
    var slotsFreed = false                        // guarded by cond

    private var threads = 0
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
        lanes = store.concurrentWriters
        outcomesArrived = lanes ? MonotonicCondition(sharingLockOf: cond) : cond
    }

    public func start() {
        // A wake-up another host's commit pushes (PostgreSQL's NOTIFY) ends an idle wait at
        // once, as a same-process enqueue does; `wakeToken` is still polled as the fallback.
        store.onWakeup { [weak self] in self?.wake() }
        handoff.start()
        startWatchdog()
        let names = lanes ? ["crescent-claims", "crescent-outcomes"] : ["crescent-pipeline"]
        threads = names.count
        for name in names {
            let thread = Thread { [self] in
                switch name {
                case "crescent-claims": claimLoop()
                case "crescent-outcomes": completionLoop()
                default: cycleLoop()
                }
                threadDone.signal()
            }
            thread.name = name
            thread.start()
        }
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
        cond.broadcast()
        outcomesArrived.broadcast()
        cond.unlock()
        for _ in 0..<threads { threadDone.wait() }
        handoff.stop()  // after the last outcomes' logs, metrics and counts
    }
}
