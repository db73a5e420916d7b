import CrescentCore
import CrescentStore
import Foundation

/// The documents behind `status --json` / `GET /api/stats` and `tasks --json` / `GET /api/tasks`,
/// built in one place so the CLI, the API and the dashboard agree.
public enum Reports {
    /// The next fire of a task's schedules after now (or after their last fires, if later);
    /// nil when it has none or they are disabled.
    public static func nextFire(_ def: TaskDefinition, store: JobStore, now: Date = Date(), states: [ScheduleState]? = nil) -> Date? {
        def.activeSchedules.compactMap { scheduleView(def, $0, store: store, now: now, states: states).nextFire }.min()
    }

    /// What `tasks`, `/api/tasks` and the dashboard show of one schedule.
    public struct ScheduleView: Sendable {
        public var schedule: TaskSchedule
        public var lastFired: Date?
        public var nextFire: Date?
        /// Occurrences due more than the scheduler's grace ago that no runner has fired yet
        /// (they are being missed now: no runner is up).
        public var overdue: Int
        public var catchUp: ScheduleCatchUp?

        /// "3 missed, 1 run (missed = once)".
        public static func summary(_ c: ScheduleCatchUp) -> String {
            let n = c.missed >= Scheduler.missedCountLimit ? "\(c.missed)+" : "\(c.missed)"
            return "\(n) missed, \(c.run) run (missed = \(c.policy))"
        }
    }

    public static func scheduleView(_ def: TaskDefinition, _ sched: TaskSchedule, store: JobStore, now: Date = Date(),
                                    states: [ScheduleState]? = nil) -> ScheduleView {
        let state: ScheduleState?
        if let states {
            state = states.first { $0.task == def.name && $0.schedule == sched.id }
        } else {
            state = ((try? store.scheduleLastFired(task: def.name, schedule: sched.id)) ?? nil)
                .map { ScheduleState(task: def.name, schedule: sched.id, lastFired: $0) }
        }
        let last = state?.lastFired
        let next = def.enabled ? sched.schedule.next(after: max(now, last ?? now), in: def.timezone) : nil
        var overdue = 0
        if def.enabled, let last {
            overdue = sched.schedule.count(after: last, through: now.addingTimeInterval(-30), limit: Scheduler.missedCountLimit,
                                           in: def.timezone)
        }
        return ScheduleView(schedule: sched, lastFired: last, nextFire: next, overdue: overdue, catchUp: state?.catchUp)
    }

    static func scheduleJSON(_ v: ScheduleView, policy: MissedPolicy) -> JSONValue {
        var o: [String: JSONValue] = [
            "id": .string(v.schedule.id),
            "schedule": .string(v.schedule.text),
            "args": (try? JSONValue.decode(v.schedule.args)) ?? .object([:]),
            "last_fired": v.lastFired.map { .string(TimeText.format($0)) } ?? .null,
            "next_fire": v.nextFire.map { .string(TimeText.format($0)) } ?? .null,
            "overdue": .int(Int64(v.overdue)),
            "last_catch_up": .null,
        ]
        if let c = v.catchUp {
            o["last_catch_up"] = .object([
                "missed": .int(Int64(c.missed)), "run": .int(Int64(c.run)), "policy": .string(c.policy),
                "from": .string(TimeText.format(c.from)), "through": .string(TimeText.format(c.through)),
                "summary": .string(ScheduleView.summary(c)),
            ])
        }
        if v.overdue > 0 {
            o["overdue_summary"] = .string("\(v.overdue >= Scheduler.missedCountLimit ? "\(v.overdue)+" : "\(v.overdue)") due while no runner was up, not fired yet (missed = \(policy.rawValue) decides when a runner starts)")
        }
        return .object(o)
    }

    public static func taskJSON(_ def: TaskDefinition, store: JobStore, now: Date = Date(), states: [ScheduleState]? = nil) -> JSONValue {
        let r = def.retry
        let views = def.allSchedules.map { scheduleView(def, $0, store: store, now: now, states: states) }
        var retention: [String: JSONValue] = [:]
        for name in TaskRetention.states {
            if let st = JobState(rawValue: name), let v = def.retention.seconds(for: st) { retention[name] = .string(DurationText.format(v)) }
        }
        return .object([
            "name": .string(def.name),
            "file": .string(def.file),
            "queue": .string(def.queue),
            "priority": .int(Int64(def.priority)),
            "schedule": views.isEmpty ? .null : .string(views.map { v in
                v.schedule.label.isEmpty ? v.schedule.text : "\(v.schedule.label): \(v.schedule.text)" }.joined(separator: "; ")),
            "enabled": .bool(def.enabled),
            "schedules": .array(views.map { scheduleJSON($0, policy: def.missed) }),
            "timezone": .string(def.timezone.identifier == "GMT" ? "UTC" : def.timezone.identifier),
            "missed": .string(def.missed.rawValue),
            "next_fire": views.compactMap(\.nextFire).min().map { .string(TimeText.format($0)) } ?? .null,
            "unique": def.unique.map { .string($0.description) } ?? .null,
            "ttl": .string(DurationText.format(def.ttl)),
            "expires": def.expires.map { .string(DurationText.format($0)) } ?? .null,
            "retention": .object(retention),
            "retry": .object([
                "attempts": .int(Int64(r.attempts)), "backoff": .string(r.backoff.rawValue),
                "delay": .string(DurationText.format(r.delay)), "max_delay": .string(DurationText.format(r.maxDelay)),
                "jitter": .double(r.jitter),
            ]),
        ])
    }

    /// One process of `status --json` / `GET /api/stats`.
    public static func processJSON(_ p: WorkerProcess, requests: Set<ProcessRequest>, now: Date, lease: Double?) -> JSONValue {
        let age = max(0, now.timeIntervalSince(p.heartbeatAt))
        return .object([
            "quiet": .bool(requests.contains(.quiet)),
            "stop_requested": .bool(requests.contains(.stop)),
            "id": .string(p.id), "host": .string(p.host), "pid": .int(Int64(p.pid)),
            "queues": .array(p.queues.map(JSONValue.string)), "started_at": .string(TimeText.format(p.startedAt)),
            "heartbeat_at": .string(TimeText.format(p.heartbeatAt)), "busy": .int(Int64(p.busy)),
            "capacity": .int(Int64(p.capacity)), "version": .string(p.version),
            "rss_bytes": p.rssBytes.map { .int($0) } ?? .null,
            "heartbeat_age_s": .double((age * 1000).rounded() / 1000), "tasks_version": .string(p.tasksVersion),
            "lost": .bool(p.lostAt != nil || (lease.map { age > $0 } ?? false)),
            "lost_at": p.lostAt.map { .string(TimeText.format($0)) } ?? .null,
            "rescued_count": .int(Int64(p.rescuedCount)),
            "rescued_jobs": .array(p.rescuedJobs.map { .int($0) }),
        ])
    }

    public static func loadErrorJSON(_ e: TaskLoadError) -> JSONValue {
        .object(["file": .string(e.file), "line": e.line.map { .int(Int64($0)) } ?? .null, "error": .string(e.message)])
    }

    /// `{"version", "tasks_version", "loaded_at", "runners": [...], "tasks": [...], "errors": [...]}`;
    /// `runners` names each registered `run` process with the tasks version it loaded.
    public static func tasks(_ registry: TaskRegistry, store: JobStore) -> JSONValue {
        let snap = registry.current
        let runners = ((try? store.processList()) ?? []).map { p -> JSONValue in
            .object(["id": .string(p.id), "host": .string(p.host), "tasks_version": .string(p.tasksVersion)])
        }
        let states = try? store.scheduleStates()
        return .object([
            "version": .int(Int64(snap.version)),
            "tasks_version": .string(snap.tasksVersion),
            "runners": .array(runners),
            "loaded_at": .string(TimeText.format(snap.loadedAt)),
            "tasks": .array(snap.sortedTasks.map { taskJSON($0, store: store, states: states) }),
            "errors": .array(snap.errors.map(loadErrorJSON)),
        ])
    }

    /// With `lease`, a process that has not heart-beaten for longer is marked `"lost": true`
    /// (killed or hung; its jobs go back to the queue once another process rescues them). A
    /// process another one rescued stays listed for an hour, `lost` with `lost_at` and what was
    /// rescued from it.
    public static func status(_ registry: TaskRegistry, store: JobStore, now: Date = Date(), lease: Double? = nil) throws -> JSONValue {
        var queues: [String: [String: JSONValue]] = [:]
        for c in try store.jobCounts() {
            queues[c.queue, default: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, JSONValue.int(0)) })][c.state.rawValue] = .int(Int64(c.count))
        }
        let paused = try store.queuesPaused()
        for queue in paused.keys where queues[queue] == nil {
            queues[queue] = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, JSONValue.int(0)) })
        }
        let requests = try store.processRequests()
        let listed = try store.processList(includingLost: true).filter { $0.isListed(at: now) }
        let registered = listed.filter { $0.lostAt == nil }
        let processes = listed.map { processJSON($0, requests: requests[$0.id] ?? [], now: now, lease: lease) }
        let fires = registry.current.sortedTasks.compactMap { def -> (String, Date)? in
            nextFire(def, store: store, now: now).map { (def.name, $0) }
        }.sorted { $0.1 < $1.1 }.prefix(10).map { JSONValue.object(["task": .string($0.0), "at": .string(TimeText.format($0.1))]) }
        func window(_ seconds: Double) throws -> JSONValue {
            let counts = try store.runCounts(since: now.addingTimeInterval(-seconds))
            let failed = (counts[.failed] ?? 0) + (counts[.aborted] ?? 0) + (counts[.discarded] ?? 0)
            return .object(["succeeded": .int(Int64(counts[.succeeded] ?? 0)), "failed": .int(Int64(failed))])
        }
        let oldest = try store.oldestDue(now: now)
        let known = Set(registry.current.tasks.keys)
        let missing = try store.queuedTaskCounts().filter { !known.contains($0.key) }
        return .object([
            "store": .string(store.storeDescription),
            "queues": .object(queues.mapValues { .object($0) }),
            "paused_queues": .array(paused.keys.sorted().map(JSONValue.string)),
            "processes": .array(processes),
            "tasks_versions": .array(Set(registered.map(\.tasksVersion)).sorted().map(JSONValue.string)),
            "next_fires": .array(Array(fires)),
            "finished": .object(["last_minute": try window(60), "last_hour": try window(3600)]),
            "oldest_queued_age_s": oldest.map { .double((now.timeIntervalSince($0) * 1000).rounded() / 1000) } ?? .null,
            "waiting_for_missing_task": .object(missing.mapValues { .int(Int64($0)) }),
        ])
    }
}
