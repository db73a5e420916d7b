import Foundation

/// A job to insert (enqueue, `queue.push`, a schedule occurrence).
public struct JobInsertParams: Sendable, Equatable {
    /// A reserved id (`jobReserveIDs`) to insert with, or nil for a new one.
    public var id: Int64?
    public var task: String
    public var queue: String
    public var priority: Int
    /// Canonical JSON text.
    public var args: String
    public var maxAttempts: Int
    /// When it is due; a time in the future makes it `scheduled`, else `queued`.
    public var runAt: Date
    public var scheduledFor: Date?
    /// Active jobs with the same key are duplicates (partial unique index over active states).
    public var uniqueKey: String?
    /// Seconds after the last job with this key finished during which another is a duplicate.
    public var uniquePeriod: Double?
    /// A job not started by then becomes `expired`.
    public var expiresAt: Date?

    public init(task: String, queue: String = "default", priority: Int = 0, args: String = "{}", maxAttempts: Int = 5,
                runAt: Date = Date(), scheduledFor: Date? = nil, uniqueKey: String? = nil,
                uniquePeriod: Double? = nil, expiresAt: Date? = nil, id: Int64? = nil) {
        self.id = id
        self.task = task; self.queue = queue; self.priority = priority; self.args = args
        self.maxAttempts = maxAttempts; self.runAt = runAt; self.scheduledFor = scheduledFor
        self.uniqueKey = uniqueKey; self.uniquePeriod = uniquePeriod; self.expiresAt = expiresAt
    }
}

/// A store write made by a handler; applied only if its attempt succeeded.
public struct StoreWrite: Sendable, Equatable {
    public var task: String
    public var key: String
    /// JSON text, or nil to delete.
    public var value: String?
    public init(task: String, key: String, value: String?) { self.task = task; self.key = key; self.value = value }
}


extension TaskDefinition {
    /// The insert for a job of this task, with the task's defaults where the caller gives none.
    public func newJob(args: String, queue: String? = nil, priority: Int? = nil, runAt: Date = Date(),
                       scheduledFor: Date? = nil, uniqueKey: String? = nil) -> JobInsertParams {
        JobInsertParams(task: name, queue: queue ?? self.queue, priority: priority ?? self.priority, args: args,
                        maxAttempts: retry.attempts, runAt: runAt, scheduledFor: scheduledFor,
                        uniqueKey: uniqueKey ?? unique?.key(task: name, args: args),
                        uniquePeriod: unique?.period, expiresAt: expires.map { runAt.addingTimeInterval($0) })
    }
}
