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
    /// Which of its task's schedules an occurrence belongs to (`TaskSchedule.id`; `""` for
    /// the task's single `schedule`): occurrences are unique per (task, schedule, instant).
    public var schedule: String = ""

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
    /// JSON text, or nil to delete. For an increment: the JSON number to add.
    public var value: String?
    /// `store.incr`: `value` is added to the key's number when the write is applied (a
    /// missing key counts as 0), so concurrent increments all count.
    public var increment: Bool
    public init(task: String, key: String, value: String?, increment: Bool = false) {
        self.task = task; self.key = key; self.value = value; self.increment = increment
    }
}

/// A committed store value an attempt read (`value` nil: the key was absent). Its success
/// applies only if the key still holds that value at commit; otherwise the attempt runs
/// again (run outcome `conflict`).
public struct StoreRead: Sendable, Equatable {
    public var task: String
    public var key: String
    /// JSON text as read, or nil.
    public var value: String?
    public init(task: String, key: String, value: String?) { self.task = task; self.key = key; self.value = value }
}

extension JSONValue {
    /// The sum of two numbers (integers stay integers unless the sum overflows), or nil
    /// when either is not a number.
    public func adding(_ other: JSONValue) -> JSONValue? {
        if case .int(let a) = self, case .int(let b) = other {
            let (sum, overflow) = a.addingReportingOverflow(b)
            return overflow ? .double(Double(a) + Double(b)) : .int(sum)
        }
        guard let a = doubleValue, let b = other.doubleValue else { return nil }
        return .double(a + b)
    }
}

/// Sizes a job's data may reach; beyond them the call is refused with a clear error.
public enum SizeLimits {
    /// A job's args as JSON text (`queue.push`, `crescent enqueue`, `POST /api/jobs`).
    public static let args = 64 * 1024
    /// One store value as JSON text (`store.set`).
    public static let storeValue = 1 << 20
    /// A handler's return value as JSON text.
    public static let result = 1 << 20
    /// Jobs one attempt may push with `queue.push`.
    public static let pushesPerAttempt = 100_000

    /// "512 KB", "1 MB": a limit as the messages name it.
    public static func describe(_ bytes: Int) -> String {
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? "\(bytes >> 20) MB" : "\(bytes >> 10) KB"
    }
}


extension TaskDefinition {
    /// The insert for a job of this task, with the task's defaults where the caller gives none.
    public func newJob(args: String, queue: String? = nil, priority: Int? = nil, runAt: Date = Date(),
                       scheduledFor: Date? = nil, uniqueKey: String? = nil, schedule: String = "") -> JobInsertParams {
        var p = JobInsertParams(task: name, queue: queue ?? self.queue, priority: priority ?? self.priority, args: args,
                                maxAttempts: retry.attempts, runAt: runAt, scheduledFor: scheduledFor,
                                uniqueKey: uniqueKey ?? unique?.key(task: name, args: args),
                                uniquePeriod: unique?.period, expiresAt: expires.map { runAt.addingTimeInterval($0) })
        p.schedule = schedule
        return p
    }
}
