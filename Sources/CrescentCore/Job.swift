import Foundation

/// A job as stored and shown (SPEC §5 "A job in JSON").
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var task: String
    public var queue: String
    public var priority: Int
    public var state: JobState
    /// Canonical JSON text of the args.
    public var args: String
    /// Attempts started so far.
    public var attempt: Int
    public var maxAttempts: Int
    /// JSON text of the handler's return value, when it succeeded.
    public var result: String?
    public var error: String?
    public var uniqueKey: String?
    public var scheduledFor: Date?
    public var runAt: Date
    public var createdAt: Date
    public var finishedAt: Date?
    /// The last `job:progress` its handler reported (kept after the job finished).
    public var progress: JobProgress?

    public init(id: Int64, task: String, queue: String, priority: Int, state: JobState, args: String,
                attempt: Int, maxAttempts: Int, result: String? = nil, error: String? = nil,
                uniqueKey: String? = nil, scheduledFor: Date? = nil, runAt: Date, createdAt: Date,
                finishedAt: Date? = nil, progress: JobProgress? = nil) {
        self.id = id; self.task = task; self.queue = queue; self.priority = priority; self.state = state
        self.args = args; self.attempt = attempt; self.maxAttempts = maxAttempts; self.result = result
        self.error = error; self.uniqueKey = uniqueKey; self.scheduledFor = scheduledFor; self.runAt = runAt
        self.createdAt = createdAt; self.finishedAt = finishedAt; self.progress = progress
    }

    /// The job as SPEC's JSON object (without runs).
    public func json() -> JSONValue {
        func time(_ d: Date?) -> JSONValue { d.map { .string(TimeText.format($0)) } ?? .null }
        return .object([
            "id": .int(id), "task": .string(task), "queue": .string(queue), "priority": .int(Int64(priority)),
            "state": .string(state.rawValue),
            "args": (try? JSONValue.decode(args)) ?? .string(args),
            "attempt": .int(Int64(attempt)), "max_attempts": .int(Int64(maxAttempts)),
            "result": result.map { (try? JSONValue.decode($0)) ?? .string($0) } ?? .null,
            "error": error.map(JSONValue.string) ?? .null,
            "unique_key": uniqueKey.map(JSONValue.string) ?? .null,
            "scheduled_for": time(scheduledFor), "run_at": time(runAt), "created_at": time(createdAt),
            "finished_at": time(finishedAt),
            "progress": progress?.json() ?? .null,
        ])
    }
}

/// One attempt of a job.
public struct JobRun: Sendable, Equatable {
    public var jobID: Int64
    public var attempt: Int
    public var startedAt: Date
    public var finishedAt: Date?
    public var outcome: RunOutcome?
    public var error: String?
    /// Lua traceback for failures.
    public var traceback: String?
    /// The process that ran it (`host:pid`).
    public var worker: String

    public init(jobID: Int64, attempt: Int, startedAt: Date, finishedAt: Date? = nil, outcome: RunOutcome? = nil,
                error: String? = nil, traceback: String? = nil, worker: String) {
        self.jobID = jobID; self.attempt = attempt; self.startedAt = startedAt; self.finishedAt = finishedAt
        self.outcome = outcome; self.error = error; self.traceback = traceback; self.worker = worker
    }

    public func json() -> JSONValue {
        .object([
            "attempt": .int(Int64(attempt)),
            "started_at": .string(TimeText.format(startedAt)),
            "finished_at": finishedAt.map { .string(TimeText.format($0)) } ?? .null,
            "outcome": outcome.map { .string($0.rawValue) } ?? .null,
            "error": error.map(JSONValue.string) ?? .null,
            "traceback": traceback.map(JSONValue.string) ?? .null,
            "worker": .string(worker),
        ])
    }
}
