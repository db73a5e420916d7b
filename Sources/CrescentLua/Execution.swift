import CrescentCore
import Foundation

/// Implemented by the runtime over the store: what host APIs need from outside the VM.
public protocol LuaHost: AnyObject, Sendable {
    /// The current task registry; `queue.push` validates against it.
    func task(named name: String) -> TaskDefinition?
    /// A committed store value of `task`.
    func storeGet(task: String, key: String) throws -> JSONValue?
    /// A committed store value of `task` as its JSON text (what a conflict check compares).
    func storeGetText(task: String, key: String) throws -> String?
    /// A fresh id for a `queue.push` (inserted only if the attempt succeeds).
    func reserveJobID() throws -> Int64
    /// The id of an active job with this unique key (or one finished within `period`).
    func findActiveUnique(key: String, period: Double?) throws -> Int64?
    /// `job:progress` of a running attempt, on every call (the host throttles its writes).
    func reportProgress(jobID: Int64, attempt: Int, progress: JobProgress)
}

/// One attempt to run: the claimed job (its `attempt` is this attempt's number) and its ttl.
public struct ExecRequest: Sendable {
    public var job: Job
    /// Seconds the attempt may run.
    public var ttl: Double
    public init(job: Job, ttl: Double) { self.job = job; self.ttl = ttl }
}

/// How an attempt ended on the VM.
public enum ExecOutcome: Sendable, Equatable {
    /// JSON text of the handler's return value (`"null"` when it returned nothing).
    case succeeded(result: String)
    /// The handler raised an error; the traceback is Lua's.
    case failed(message: String, traceback: String?)
    /// `return job:snooze("30s")`.
    case snoozed(seconds: Double)
    /// `return job:discard("reason")`.
    case discarded(reason: String)
    /// Stopped from outside: "ttl exceeded", "memory limit exceeded", "cancelled", "worker shut down".
    case aborted(reason: String)
}

/// The result of one attempt. `pushes` and `storeWrites` are non-empty only for a
/// succeeded attempt: the runtime applies them atomically with the success.
public struct ExecResult: Sendable {
    public var jobID: Int64
    public var attempt: Int
    public var outcome: ExecOutcome
    /// `queue.push` inserts, with ids from `LuaHost.reserveJobID()`.
    public var pushes: [JobInsertParams]
    public var storeWrites: [StoreWrite]
    /// Committed store values a succeeded attempt read; its success applies only if they
    /// still hold at commit.
    public var storeReads: [StoreRead] = []
    /// The attempt's last `job:progress` (whatever the outcome), written with it.
    public var progress: JobProgress?
    public var startedAt: Date
    public var finishedAt: Date

    public init(jobID: Int64, attempt: Int, outcome: ExecOutcome, pushes: [JobInsertParams] = [],
                storeWrites: [StoreWrite] = [], startedAt: Date, finishedAt: Date) {
        self.jobID = jobID; self.attempt = attempt; self.outcome = outcome; self.pushes = pushes
        self.storeWrites = storeWrites; self.startedAt = startedAt; self.finishedAt = finishedAt
    }
}

extension LuaHost {
    public func storeGetText(task: String, key: String) throws -> String? {
        try storeGet(task: task, key: key)?.encoded()
    }

    public func reportProgress(jobID: Int64, attempt: Int, progress: JobProgress) {}
}
