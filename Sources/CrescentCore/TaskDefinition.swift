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

/// One schedule of a task: the `schedule` field (id `""`) or an entry of `schedules`.
public struct TaskSchedule: Sendable, Equatable {
    /// Keeps this schedule's occurrences and last fired time apart from the task's other
    /// schedules: `""` for `schedule`, the entry's `name` or else its position (`"1"`, `"2"`, …)
    /// for `schedules`.
    public var id: String
    public var schedule: Schedule
    /// As written, for display.
    public var text: String
    /// The args its jobs get (canonical JSON text).
    public var args: String

    public init(id: String, schedule: Schedule, text: String, args: String = "{}") {
        self.id = id; self.schedule = schedule; self.text = text; self.args = args
    }

    /// `hourly` / `#2` / `` for display next to the task's name.
    public var label: String { id.isEmpty ? "" : (Int(id) != nil ? "#" + id : id) }
}

/// Per-task retention (`retention = { succeeded = "0s", dead = "7d" }`): seconds a finished
/// job is kept, by state; nil keeps `[retention]`'s.
public struct TaskRetention: Sendable, Equatable {
    public var succeeded: Double?
    public var dead: Double?
    public var cancelled: Double?
    public var expired: Double?
    public init(succeeded: Double? = nil, dead: Double? = nil, cancelled: Double? = nil, expired: Double? = nil) {
        self.succeeded = succeeded; self.dead = dead; self.cancelled = cancelled; self.expired = expired
    }
    public static let states = ["succeeded", "dead", "cancelled", "expired"]

    public func seconds(for state: JobState) -> Double? {
        switch state {
        case .succeeded: return succeeded
        case .dead: return dead
        case .cancelled: return cancelled
        case .expired: return expired
        default: return nil
        }
    }
    public var isEmpty: Bool { succeeded == nil && dead == nil && cancelled == nil && expired == nil }
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
    /// The args of the `schedule` field's jobs (`args = {…}`), canonical JSON text.
    public var scheduleArgs: String = "{}"
    /// The entries of `schedules` (empty when the task uses `schedule` or none).
    public var schedules: [TaskSchedule] = []
    /// `enabled = false`: no schedule fires (jobs can still be enqueued by hand).
    public var enabled: Bool = true
    /// `retention = {…}`: overrides `[retention]` for this task's finished jobs.
    public var retention = TaskRetention()
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
            && a.retry == b.retry && a.scheduleArgs == b.scheduleArgs && a.schedules == b.schedules
            && a.enabled == b.enabled && a.retention == b.retention
    }

    /// Every schedule of the task, enabled or not: `schedule` (id `""`) or `schedules`.
    public var allSchedules: [TaskSchedule] {
        if let schedule, schedules.isEmpty {
            return [TaskSchedule(id: "", schedule: schedule, text: scheduleText ?? schedule.text, args: scheduleArgs)]
        }
        return schedules
    }

    /// The schedules that fire: none when `enabled = false`.
    public var activeSchedules: [TaskSchedule] { enabled ? allSchedules : [] }

    /// Whether the task has any schedule (fired or disabled).
    public var isScheduled: Bool { !allSchedules.isEmpty }
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
