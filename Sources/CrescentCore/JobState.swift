/// Where a job is in its life. Each case says who moves a job in and out of it.
public enum JobState: String, Sendable, CaseIterable, Codable {
    /// Due later. In: enqueue with `--in`/`--at`/`delay`, the Scheduler's future occurrence.
    /// Out: becomes claimable (`queued` semantics) once `run_at` passes; `cancelled`, `expired`.
    case scheduled
    /// Due now, waiting for a worker. In: enqueue, retry by hand, Rescuer, released at shutdown.
    /// Out: the pipeline claims it (`running`); cancel; expiry.
    case queued
    /// Claimed by a process that holds its lease. In: the pipeline's claim.
    /// Out: a completion (`succeeded`, `retrying`, `dead`, `scheduled` on snooze),
    /// the Rescuer (lease lost), shutdown release (`queued`), cancel (`cancelled`).
    case running
    /// Finished well. In: a completion. Out: the Pruner deletes it after retention.
    case succeeded
    /// Failed, waiting for its next attempt at `run_at`. In: a completion. Out: claim, cancel.
    case retrying
    /// Out of attempts, or discarded. In: a completion. Out: retry by hand, the Pruner.
    case dead
    /// Stopped by an operator. In: cancel. Out: retry by hand.
    case cancelled
    /// Not started within `expires` of its due time. In: the pipeline at claim time.
    case expired

    /// States in which a job still holds its uniqueness key.
    public static let active: [JobState] = [.scheduled, .queued, .running, .retrying]
    public var isActive: Bool { JobState.active.contains(self) }
    public var isFinal: Bool { !isActive }
}

/// How one attempt (a run) ended.
public enum RunOutcome: String, Sendable, Codable {
    case succeeded, failed, snoozed, discarded
    /// Stopped from outside: ttl, cancel, memory cap, or the worker was lost.
    case aborted
    /// Handed back to the queue at shutdown; does not use an attempt.
    case released
    /// Succeeded, but a store key the attempt read was changed by another attempt before
    /// its commit: nothing it did was applied and it runs again without using an attempt.
    case conflict
}
