import Foundation

/// What to do with schedule occurrences that fell due while no runner was up.
public enum MissedPolicy: String, Sendable, CaseIterable {
    case skip, once, all
}

/// SPEC §2 "Unique": which jobs count as duplicates of each other.
public struct UniquePolicy: Sendable, Equatable {
    public enum By: Sendable, Equatable {
        /// One active job per task.
        case task
        /// One active job per distinct args (canonical JSON).
        case args
        /// A Lua function computes the key from the args.
        case function
    }
    public var by: By
    /// Also no second job with that key within this many seconds after the last finished.
    public var period: Double?

    public init(by: By, period: Double? = nil) { self.by = by; self.period = period }

    /// The key for jobs of `task` with canonical `args`; `.function` keys come from Lua.
    public func key(task: String, args: String) -> String? {
        switch by {
        case .task: return task
        case .args: return task + ":" + args
        case .function: return nil
        }
    }

    public var description: String {
        let base: String
        switch by {
        case .task: base = "task"
        case .args: base = "args"
        case .function: base = "function"
        }
        return period.map { "\(base) for \(DurationText.format($0))" } ?? base
    }
}

/// A task's validated settings: everything in its file but the handler (SPEC §2).
public struct TaskDefinition: Sendable, Equatable {
    /// `mail/digest` for `tasks/mail/digest.lua`, unless the file sets `name`.
    public var name: String
    /// Path of the file relative to the config folder, e.g. `tasks/mail/digest.lua`.
    public var file: String
    public var queue: String = "default"
    public var priority: Int = 0
    public var schedule: Schedule?
    /// The schedule as written, for display.
    public var scheduleText: String?
    public var timezone: TimeZone = TimeZone(identifier: "UTC")!
    public var missed: MissedPolicy = .once
    public var unique: UniquePolicy?
    /// Seconds one attempt may run.
    public var ttl: Double = 1800
    /// Seconds after it was due by which a job must have started.
    public var expires: Double?
    public var retry: RetryPolicy = .default

    public init(name: String, file: String) {
        self.name = name
        self.file = file
    }

    public static func == (a: TaskDefinition, b: TaskDefinition) -> Bool {
        a.name == b.name && a.file == b.file && a.queue == b.queue && a.priority == b.priority
            && a.scheduleText == b.scheduleText && a.timezone.identifier == b.timezone.identifier
            && a.missed == b.missed && a.unique == b.unique && a.ttl == b.ttl && a.expires == b.expires
            && a.retry == b.retry
    }
}

/// A task file that did not load, with the reason (`file:line: message`).
public struct TaskLoadError: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file; self.line = line; self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}
