import Foundation

extension TaskDefinition {
    /// Every setting as plain JSON (seconds as numbers), so a runner can persist the
    /// definitions it runs and other commands can read them back with `init(json:)`.
    public func json() -> JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(name), "file": .string(file), "queue": .string(queue), "priority": .int(Int64(priority)),
            "timezone": .string(timezone.identifier), "missed": .string(missed.rawValue), "ttl": .double(ttl),
            "retry": .object([
                "attempts": .int(Int64(retry.attempts)), "backoff": .string(retry.backoff.rawValue), "delay": .double(retry.delay),
                "max_delay": .double(retry.maxDelay), "jitter": .double(retry.jitter),
            ]),
        ]
        if let scheduleText { o["schedule"] = .string(scheduleText) }
        if scheduleArgs != "{}" { o["args"] = .string(scheduleArgs) }
        if !schedules.isEmpty {
            o["schedules"] = .array(schedules.map { .object(["id": .string($0.id), "schedule": .string($0.text), "args": .string($0.args)]) })
        }
        if !enabled { o["enabled"] = .bool(false) }
        if !retention.isEmpty {
            var r: [String: JSONValue] = [:]
            for name in TaskRetention.states {
                if let state = JobState(rawValue: name), let v = retention.seconds(for: state) { r[name] = .double(v) }
            }
            o["retention"] = .object(r)
        }
        if let expires { o["expires"] = .double(expires) }
        if let unique {
            let by: String
            switch unique.by {
            case .task: by = "task"
            case .args: by = "args"
            case .function: by = "function"
            }
            o["unique"] = .object(["by": .string(by), "period": unique.period.map(JSONValue.double) ?? .null])
        }
        return .object(o)
    }

    /// Reads what `json()` wrote; nil if it is not such a document.
    public init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue, let file = json["file"]?.stringValue else { return nil }
        self.init(name: name, file: file)
        queue = json["queue"]?.stringValue ?? queue
        priority = json["priority"]?.intValue.map { Int($0) } ?? priority
        if let text = json["schedule"]?.stringValue {
            scheduleText = text
            schedule = try? Schedule.parse(text)
        }
        scheduleArgs = json["args"]?.stringValue ?? scheduleArgs
        if case .array(let entries)? = json["schedules"] {
            schedules = entries.compactMap { e in
                guard let id = e["id"]?.stringValue, let text = e["schedule"]?.stringValue,
                      let parsed = try? Schedule.parse(text) else { return nil }
                return TaskSchedule(id: id, schedule: parsed, text: text, args: e["args"]?.stringValue ?? "{}")
            }
        }
        if json["enabled"] == .bool(false) { enabled = false }
        if let r = json["retention"] {
            retention = TaskRetention(succeeded: r["succeeded"]?.doubleValue, dead: r["dead"]?.doubleValue,
                                      cancelled: r["cancelled"]?.doubleValue, expired: r["expired"]?.doubleValue)
        }
        timezone = json["timezone"]?.stringValue.flatMap(TimeZone.init(identifier:)) ?? timezone
        missed = json["missed"]?.stringValue.flatMap(MissedPolicy.init(rawValue:)) ?? missed
        ttl = json["ttl"]?.doubleValue ?? ttl
        expires = json["expires"]?.doubleValue
        if let r = json["retry"] {
            retry = RetryPolicy(attempts: r["attempts"]?.intValue.map { Int($0) } ?? retry.attempts,
                                backoff: r["backoff"]?.stringValue.flatMap(RetryPolicy.Backoff.init(rawValue:)) ?? retry.backoff,
                                delay: r["delay"]?.doubleValue ?? retry.delay, maxDelay: r["max_delay"]?.doubleValue ?? retry.maxDelay,
                                jitter: r["jitter"]?.doubleValue ?? retry.jitter)
        }
        if let u = json["unique"], let by = u["by"]?.stringValue {
            let kind: UniquePolicy.By = by == "task" ? .task : by == "args" ? .args : .function
            unique = UniquePolicy(by: kind, period: u["period"]?.doubleValue)
        }
    }
}
