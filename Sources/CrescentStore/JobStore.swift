import CrescentCore
import Foundation

// The storage contract. Shaped like River's driver interface: Entity+Verb methods, one
// params struct each, every state change guarded. SQL lives only in implementations.
// All methods are synchronous and thread-safe; SQLITE_BUSY never escapes them.

public struct JobInsertResult: Sendable, Equatable {
    public var id: Int64
    /// True when a unique job already existed; `id` is then the existing job's.
    public var duplicate: Bool
    public init(id: Int64, duplicate: Bool) { self.id = id; self.duplicate = duplicate }
}

/// Claim up to `limit` due jobs of one queue for `worker`.
public struct JobClaimParams: Sendable {
    public var queue: String
    public var limit: Int
    /// The claiming process (`WorkerProcess.id`); becomes the lease owner.
    public var worker: String
    public var now: Date
    /// Jobs of these tasks are left alone (their task files are missing: they wait for them).
    public var excludeTasks: [String]
    public init(queue: String, limit: Int, worker: String, now: Date = Date(), excludeTasks: [String] = []) {
        self.queue = queue; self.limit = limit; self.worker = worker; self.now = now; self.excludeTasks = excludeTasks
    }
}

/// How an attempt ended, with everything the store needs to apply it.
/// The runtime decides retry-or-dead (it knows the policy); the store only applies.
public enum CompletionOutcome: Sendable, Equatable {
    case succeeded(result: String)
    /// `retryAt == nil`: no attempts left, the job becomes `dead`.
    case failed(error: String, traceback: String?, retryAt: Date?)
    /// Run again at `until` without using an attempt.
    case snoozed(until: Date)
    /// Dead now, no more attempts.
    case discarded(reason: String)
    /// Stopped from outside (ttl, memory, cancel, worker lost); `retryAt == nil` → dead
    /// (or `cancelled` when the job's cancel was requested).
    case aborted(error: String, retryAt: Date?)
    /// Handed back at shutdown: queued again, the attempt is not counted.
    case released
    /// Set by the store, never passed in: a success whose store reads no longer hold at
    /// commit (see `JobCompletion.storeReads`); queued again now, the attempt not counted.
    case conflict
}

extension CompletionOutcome {
    public var isSuccess: Bool {
        if case .succeeded = self { return true }
        return false
    }
}

public struct JobCompletion: Sendable, Equatable {
    public var jobID: Int64
    /// Fencing: the completion applies only if the job is still `running` attempt
    /// `attempt` owned by `worker`.
    public var attempt: Int
    public var worker: String
    /// When the attempt started (the claim's `now`), for its run row; nil reads it from
    /// the job row.
    public var startedAt: Date?
    public var finishedAt: Date
    public var outcome: CompletionOutcome
    /// `queue.push` calls of a succeeded attempt, inserted in the same transaction.
    public var pushes: [JobInsertParams]
    public var storeWrites: [StoreWrite]
    /// Committed store values a succeeded attempt read. If any key holds another value at
    /// commit (or an increment's key holds something other than a number), the success is
    /// not applied: the job is queued again, run outcome `conflict`, the attempt not counted.
    public var storeReads: [StoreRead]
    /// The attempt's last `job:progress`, written with the outcome when it applies (any outcome).
    public var progress: JobProgress?
    /// A success that applies deletes the job (and its runs) in the same transaction (a
    /// task's `retention = { succeeded = "0s" }`).
    public var removeOnSuccess = false
    /// The job's queue, for the store's counts of finished jobs; read from the job row when
    /// nil (the pipeline always knows it).
    public var queue: String?

    public init(jobID: Int64, attempt: Int, worker: String, startedAt: Date? = nil, finishedAt: Date = Date(),
                outcome: CompletionOutcome, pushes: [JobInsertParams] = [], storeWrites: [StoreWrite] = [],
                storeReads: [StoreRead] = [], progress: JobProgress? = nil) {
        self.jobID = jobID; self.attempt = attempt; self.worker = worker; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.outcome = outcome; self.pushes = pushes; self.storeWrites = storeWrites; self.storeReads = storeReads
        self.progress = progress
    }

    /// Whether the store must check this completion's reads (and increments) at commit.
    public var needsStoreCheck: Bool {
        guard case .succeeded = outcome else { return false }
        return !storeReads.isEmpty || storeWrites.contains(where: \.increment)
    }
}

/// A running attempt's progress, written while it runs (`JobStore.jobProgressUpdate`).
public struct JobProgressUpdate: Sendable, Equatable {
    public var jobID: Int64
    /// Fencing, as for a completion: it applies only while the job is `running` this attempt
    /// owned by `worker`.
    public var attempt: Int
    public var worker: String
    public var progress: JobProgress
    public init(jobID: Int64, attempt: Int, worker: String, progress: JobProgress) {
        self.jobID = jobID; self.attempt = attempt; self.worker = worker; self.progress = progress
    }
}

public struct JobListParams: Sendable {
    public var state: JobState?
    public var task: String?
    public var queue: String?
    public var limit: Int
    public var offset: Int
    /// Jobs whose args or error contain this text (case-insensitive for ASCII letters).
    public var search: String?
    public init(state: JobState? = nil, task: String? = nil, queue: String? = nil, limit: Int = 50, offset: Int = 0) {
        self.state = state; self.task = task; self.queue = queue; self.limit = limit; self.offset = offset
    }
}

/// Insert the occurrences of one schedule of a task and record its last fired time, in one
/// transaction. An occurrence already present (task, schedule, scheduled_for) is not
/// inserted again.
public struct ScheduleFireParams: Sendable {
    public var task: String
    /// The schedule's id within the task (`TaskSchedule.id`, `""` for `schedule`).
    public var schedule: String
    /// One insert per occurrence; `scheduledFor` must be set on each.
    public var jobs: [JobInsertParams]
    /// Persisted as the schedule's last fired occurrence.
    public var lastFired: Date
    /// Recorded as the schedule's last catch-up after downtime, when given.
    public var catchUp: ScheduleCatchUp?
    public init(task: String, schedule: String = "", jobs: [JobInsertParams], lastFired: Date, catchUp: ScheduleCatchUp? = nil) {
        self.task = task; self.schedule = schedule; self.jobs = jobs; self.lastFired = lastFired; self.catchUp = catchUp
    }
}

/// Occurrences a schedule missed while no runner was up, and what `missed` did with them.
public struct ScheduleCatchUp: Sendable, Equatable {
    /// Occurrences that fell due while nobody ran (more than `limit` counts as `limit`).
    public var missed: Int
    /// How many of them became jobs.
    public var run: Int
    /// The task's `missed` policy then (`skip`, `once`, `all`).
    public var policy: String
    /// The span without a runner: the last fired occurrence before, and when it was noticed.
    public var from: Date
    public var through: Date
    public init(missed: Int, run: Int, policy: String, from: Date, through: Date) {
        self.missed = missed; self.run = run; self.policy = policy; self.from = from; self.through = through
    }
}

/// A schedule's persisted state (`JobStore.scheduleStates`).
public struct ScheduleState: Sendable, Equatable {
    public var task: String
    public var schedule: String
    public var lastFired: Date
    /// The last catch-up after downtime, if there was one.
    public var catchUp: ScheduleCatchUp?
    public init(task: String, schedule: String, lastFired: Date, catchUp: ScheduleCatchUp? = nil) {
        self.task = task; self.schedule = schedule; self.lastFired = lastFired; self.catchUp = catchUp
    }
}

extension Array where Element == QueueStateCount {
    /// The jobs counted, only those of `state` and of `queue` when given.
    public func total(state: JobState? = nil, queue: String? = nil) -> Int {
        reduce(0) { (state == nil || $1.state == state) && (queue == nil || $1.queue == queue) ? $0 + $1.count : $0 }
    }
}

public struct QueueStateCount: Sendable, Equatable {
    public var queue: String
    public var state: JobState
    public var count: Int
    public init(queue: String, state: JobState, count: Int) { self.queue = queue; self.state = state; self.count = count }
}

public protocol JobStore: Sendable {
    /// Which store and database this is, without secrets: `sqlite /path/crescent.db`,
    /// `postgres postgres://crescent:***@db:5432/app?schema=crescent` (status, dashboard, stats).
    var storeDescription: String { get }
    /// Whether transactions on separate connections write at the same time (PostgreSQL): the
    /// pipeline then writes outcomes and claims on two connections at once. False for one
    /// writer at a time (SQLite): one transaction per cycle does both.
    var concurrentWriters: Bool { get }
    /// Answers when the database can be queried; throws otherwise (`/healthz`).
    func ping() throws

    // Jobs
    func jobInsert(_ params: JobInsertParams) throws -> JobInsertResult
    func jobInsertMany(_ params: [JobInsertParams]) throws -> [JobInsertResult]
    /// Reserves `count` (≥ 1) fresh job ids, ascending, that no other insert will take, for
    /// inserting later with `JobInsertParams.id` (a handler's `queue.push` answers its id at
    /// once, the job is inserted when the attempt succeeds). Unused ids are simply skipped.
    /// They need not be contiguous (other hosts reserve and insert meanwhile).
    func jobReserveIDs(count: Int) throws -> [Int64]
    /// The job holding `key` now: an active job with that unique key, or (when `period`
    /// is given) the newest one finished within `period` seconds before `now`.
    func jobFindActiveUnique(key: String, period: Double?, now: Date) throws -> Int64?
    /// Marks due jobs of the queue `running` (attempt + 1, a new run row), by priority
    /// desc, run_at, id; expires those past `expires_at` first.
    func jobClaim(_ params: JobClaimParams) throws -> [Job]
    /// Applies completions in one transaction. Returns, per completion, whether it was
    /// applied (false: fenced out — the job is no longer that attempt of that worker).
    func jobCompleteMany(_ completions: [JobCompletion]) throws -> [Bool]
    /// The pipeline's cycle in one transaction: applies `completions` (as `jobCompleteMany`),
    /// then claims for each of `claims` in order (as `jobClaim`), no more than `claimBudget`
    /// jobs in all. Returns the completions' applied flags, the jobs claimed per params, and
    /// the indexes of the completions applied as `conflict` instead of their success.
    func jobCompleteAndClaim(_ completions: [JobCompletion], claims: [JobClaimParams],
                             claimBudget: Int) throws -> (applied: [Bool], claimed: [[Job]], conflicts: [Int])
    /// Undoes a claim that never ran (its task is not loaded): back to `queued` as it was,
    /// the attempt not counted, no run recorded. Fenced like a completion.
    func jobUnclaim(ids: [Int64], worker: String) throws
    /// Records running attempts' progress (`job:progress`), in one transaction, each fenced
    /// like a completion. Returns how many applied.
    @discardableResult
    func jobProgressUpdate(_ updates: [JobProgressUpdate]) throws -> Int
    func jobGet(id: Int64) throws -> Job?
    func jobRuns(id: Int64) throws -> [JobRun]
    /// Newest first.
    func jobList(_ params: JobListParams) throws -> [Job]
    /// dead / cancelled / expired → queued now with attempts reset. Returns ids that moved.
    func jobRetry(ids: [Int64]) throws -> [Int64]
    func jobRetryAllDead() throws -> Int
    /// Deletes jobs (and their runs) that are not running. Returns the ids deleted.
    func jobDelete(ids: [Int64]) throws -> [Int64]
    /// scheduled / retrying → due now (`run_at` = `now`), attempts kept. Returns ids that moved.
    func jobRunNow(ids: [Int64], now: Date) throws -> [Int64]
    /// scheduled / queued / retrying → cancelled; running → cancel requested (the
    /// owning process aborts it). Returns ids that were cancelled or flagged.
    func jobCancel(ids: [Int64]) throws -> [Int64]
    /// Ids of running jobs owned by `worker` whose cancel was requested.
    func jobCancelRequested(worker: String) throws -> [Int64]
    /// Jobs per queue and state; finished jobs from counts the store keeps with its writes.
    func jobCounts() throws -> [QueueStateCount]
    /// Counts the finished jobs again and replaces the kept counts; true when they differed.
    @discardableResult
    func recountFinalJobs() throws -> Bool
    /// How many jobs `jobList(params)` would page through (limit and offset ignored).
    func jobCount(_ params: JobListParams) throws -> Int
    /// The queue names that have jobs, sorted.
    func jobQueueNames() throws -> [String]
    /// Runs finished per minute over the `minutes` minutes ending at `now` (oldest first,
    /// always `minutes` entries; the last one is the minute in progress).
    func runsPerMinute(minutes: Int, now: Date) throws -> [RunMinute]
    /// Runs finished since `since`, split by outcome.
    func runCounts(since: Date) throws -> [RunOutcome: Int]
    /// Earliest `run_at` of a due (`queued`, or `scheduled`/`retrying` now due) job, per queue.
    func oldestDue(now: Date) throws -> Date?
    /// The next time any not-yet-due job of these queues becomes due.
    func nextDue(queues: [String]) throws -> Date?
    /// The earliest `run_at` of due jobs, per queue (which queues have work now).
    func oldestDuePerQueue(now: Date) throws -> [String: Date]
    /// The queues that have a due job now (cheaper than `oldestDuePerQueue`: no scan of
    /// every pending job).
    func dueQueues(now: Date) throws -> [String]
    /// Queued jobs per task name, all of them (read from the queued jobs only).
    func queuedTaskCounts() throws -> [String: Int]
    /// Changes whenever another process (or another store object on the same database) may
    /// have committed work for this one: SQLite's `data_version`, PostgreSQL's count of
    /// wake-up notifications received. A cheap signal an idle pipeline polls instead of
    /// claiming.
    func wakeToken() throws -> Int64
    /// Calls `handler` (on any thread) as soon as a wake-up from another process arrives,
    /// where the store can push them (PostgreSQL's LISTEN/NOTIFY). Stores that cannot (SQLite)
    /// never call it; pipelines poll `wakeToken` as well either way.
    func onWakeup(_ handler: @escaping @Sendable () -> Void)

    // Schedules (a task's schedule is `schedule` = "" unless it has several: `TaskSchedule.id`)
    func scheduleLastFired(task: String, schedule: String) throws -> Date?
    func scheduleFire(_ params: ScheduleFireParams) throws -> [JobInsertResult]
    /// Sets the schedule's last fired time back to `to` if it lies after `limit` (a time
    /// written by a clock ahead of this one); returns whether it did.
    func scheduleClampLastFired(task: String, schedule: String, to: Date, ifAfter limit: Date) throws -> Bool
    /// Deletes `scheduled` occurrence jobs of the schedule (not yet started) whose
    /// `scheduled_for` is after `after`; used when a schedule changes.
    func scheduleRemovePending(task: String, schedule: String, after: Date) throws -> Int
    /// Every schedule's persisted state, by task and schedule.
    func scheduleStates() throws -> [ScheduleState]

    // Handler key–value store
    func storeGet(task: String, key: String) throws -> String?
    /// Writes keys outside a job (nil value deletes), in one transaction.
    func storeApply(_ writes: [StoreWrite]) throws

    // Processes and leases
    /// Registers a live process; a row of the same id (alive or lost) is replaced.
    func processRegister(_ process: WorkerProcess) throws
    /// Heartbeat; returns false if the process row was removed or marked lost (it lost its lease).
    func leaseRenew(processID: String, beat: ProcessBeat, now: Date) throws -> Bool
    func processDeregister(id: String) throws
    /// The live processes, and with `includingLost` the lost ones still listed (after them).
    func processList(includingLost: Bool) throws -> [WorkerProcess]
    /// Deletes up to `limit` rows of processes lost before `before`; returns how many.
    func processPruneLost(before: Date, limit: Int) throws -> Int
    /// What a rescuer sees of the leases: each live process row's last heartbeat value, and the
    /// owners of running jobs (a running job whose owner has no live row shows up here only).
    func leaseView() throws -> LeaseView
    /// Rescues the running jobs of each owner in `stale` whose heartbeat value is still exactly
    /// the one given (nil: it still has no live row): run outcome `aborted`, error `worker lost`,
    /// `retrying` at `retryAt(job)`, `dead` when it answers nil, `cancelled` when a cancel was
    /// requested. Marks those owners' rows lost in the same transaction (`lostAt`, with the ids
    /// rescued added to `rescuedCount`/`rescuedJobs`). An owner that heart-beat meanwhile is
    /// left alone. Returns the rescued job ids.
    func jobRescue(stale: [String: Double?], retryAt: @Sendable (Job) -> Date?) throws -> [Int64]
    /// The running jobs `worker` still owns, with their attempts.
    func jobsOwned(worker: String) throws -> [Int64: Int]
    /// Asks every run process to stop; they see it through `stopRequested`.
    func stopRequest(now: Date) throws
    func stopRequested(since: Date) throws -> Bool

    // Operator control: persisted, so every process of the database sees it (OperatorControl.swift)
    /// Pauses (`paused`) or resumes a queue; returns whether its state changed. No claim takes
    /// a job of a paused queue; running jobs finish.
    func queueSetPaused(_ queue: String, paused: Bool, now: Date) throws -> Bool
    /// The paused queues, with when each was paused.
    func queuesPaused() throws -> [String: Date]
    /// Records `request` for the registered process `id`; false when no such live process is registered.
    func processRequest(id: String, _ request: ProcessRequest, now: Date) throws -> Bool
    /// The requests recorded for each registered process (removed with its row at deregistration).
    func processRequests() throws -> [String: Set<ProcessRequest>]
    /// The requests recorded for one process (its heartbeat reads them).
    func processRequests(id: String) throws -> Set<ProcessRequest>

    // Maintenance
    /// Deletes up to `limit` finished jobs (and runs) of `state` finished before `before`:
    /// only jobs of `tasks` when it is given, never jobs of `excluding` (per-task retention).
    func jobPrune(state: JobState, before: Date, limit: Int, tasks: [String]?, excluding: [String]) throws -> Int
    /// Jobs waiting (`scheduled`, `queued`, `retrying`) past their `expires_at` become
    /// `expired`, up to `limit` of them; returns how many did. A claim does it for its own
    /// queue; the Pruner's pass each second reaches jobs waiting behind a full or paused queue.
    func jobExpire(now: Date, limit: Int) throws -> Int
}

extension JobStore {
    /// The task's single `schedule`.
    public func scheduleLastFired(task: String) throws -> Date? { try scheduleLastFired(task: task, schedule: "") }
    public func scheduleClampLastFired(task: String, to: Date, ifAfter limit: Date) throws -> Bool {
        try scheduleClampLastFired(task: task, schedule: "", to: to, ifAfter: limit)
    }
    public func scheduleRemovePending(task: String, after: Date) throws -> Int {
        try scheduleRemovePending(task: task, schedule: "", after: after)
    }
    /// Heartbeat writing only `busy`.
    public func leaseRenew(processID: String, busy: Int, now: Date) throws -> Bool {
        try leaseRenew(processID: processID, beat: ProcessBeat(busy: busy), now: now)
    }
    /// The live processes.
    public func processList() throws -> [WorkerProcess] { try processList(includingLost: false) }
    /// Every task's finished jobs of `state` (`[retention]`).
    public func jobPrune(state: JobState, before: Date, limit: Int) throws -> Int {
        try jobPrune(state: state, before: before, limit: limit, tasks: nil, excluding: [])
    }
}
