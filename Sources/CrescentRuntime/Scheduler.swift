import CrescentCore
import CrescentStore
import Foundation
import Logging

/// Turns each schedule occurrence into one job (SPEC §3).
///
/// The last fired occurrence per task is persisted; occurrences are inserted when due with
/// `scheduled_for` set, and the store's unique (task, scheduled_for) index makes each one a
/// single job however many processes run this loop. After downtime, `missed` decides which of
/// the occurrences that fell due while nobody ran become jobs.
public final class Scheduler: @unchecked Sendable {
    let store: JobStore
    let registry: TaskRegistry
    let logger: Logger
    /// An occurrence older than this when first seen counts as missed (the runner was down).
    let grace: Double = 30
    /// Called after jobs were inserted, to wake the pipeline.
    let onFired: @Sendable () -> Void

    private let cond = MonotonicCondition()
    private var stopping = false
    private var woken = false
    private var thread: Thread?
    private let done = DispatchSemaphore(value: 0)
    /// The spec each task was last evaluated with; a changed spec resets its baseline.
    private var seenSpecs: [String: String] = [:]
    /// Evaluations failing on the store (scheduler thread only): logged when it begins and ends.
    private var outage = StoreOutage("schedule evaluation")

    public init(store: JobStore, registry: TaskRegistry, logger: Logger, onFired: @escaping @Sendable () -> Void) {
        self.store = store
        self.registry = registry
        self.logger = logger
        self.onFired = onFired
    }

    public func start() {
        let t = Thread { [self] in loop(); done.signal() }
        t.name = "crescent-scheduler"
        thread = t
        t.start()
    }

    /// Re-evaluate now (the tasks changed).
    public func wake() {
        cond.lock()
        woken = true
        cond.signal()
        cond.unlock()
    }

    public func stop() {
        cond.lock()
        stopping = true
        cond.signal()
        cond.unlock()
        done.wait()
    }

    private func loop() {
        while true {
            let next = tick(now: Date())
            cond.lock()
            if stopping { cond.unlock(); return }
            if !woken {
                // Sleep until the next occurrence, at most 1 s (to notice other changes).
                cond.wait(seconds: min(next?.timeIntervalSinceNow ?? 1, 1))
            }
            woken = false
            let stop = stopping
            cond.unlock()
            if stop { return }
        }
    }

    /// Fires every task's due occurrences; returns the earliest next occurrence.
    @discardableResult
    public func tick(now: Date) -> Date? {
        var earliest: Date?
        var evaluated = 0
        var failure: (task: String, error: any Error)?
        for definition in registry.current.tasks.values {
            for schedule in definition.allSchedules {
                do {
                    if let next = try fire(definition, schedule, now: now) {
                        earliest = min(earliest ?? next, next)
                    }
                    evaluated += 1
                } catch {
                    failure = failure ?? (definition.name, error)
                }
            }
        }
        // Tried again on the next round (within a second); occurrences due meanwhile fire then.
        if let failure {
            outage.failed(failure.error, logger: logger, consequence: "trying again within a second", metadata: ["task": "\(failure.task)"])
        } else if evaluated > 0 {
            outage.succeeded(logger: logger)
        }
        return earliest
    }

    /// How far a persisted `last_fired` may lie ahead of this process's clock before it is
    /// clamped to now (clocks of several hosts differ by a little; a step back is larger).
    static let futureTolerance: Double = 60

    private func specKey(_ d: TaskDefinition, _ s: TaskSchedule) -> String {
        "\(s.text)|\(s.args)|\(d.timezone.identifier)|\(d.missed.rawValue)|\(d.enabled)"
    }

    private func fire(_ def: TaskDefinition, _ sched: TaskSchedule, now: Date) throws -> Date? {
        let schedule = sched.schedule
        let id = sched.id
        let name = sched.label.isEmpty ? def.name : "\(def.name) \(sched.label)"
        let spec = specKey(def, sched)
        let seenKey = def.name + "\u{0}" + id
        var last = try store.scheduleLastFired(task: def.name, schedule: id)
        if let seen = seenSpecs[seenKey], seen != spec {
            // The schedule changed (or was disabled or enabled): drop not-yet-started
            // occurrences of the old spec and start the new one from now.
            let removed = try store.scheduleRemovePending(task: def.name, schedule: id, after: now)
            logger.info("schedule changed", metadata: ["task": "\(name)", "schedule": "\(sched.text)", "enabled": "\(def.enabled)", "removed_pending": .stringConvertible(removed)])
            last = now
            _ = try store.scheduleFire(ScheduleFireParams(task: def.name, schedule: id, jobs: [], lastFired: now))
        }
        seenSpecs[seenKey] = spec
        if let stored = last, stored.timeIntervalSince(now) > Self.futureTolerance {
            // The clock stepped back (or a runner with a clock ahead wrote it): a `last_fired`
            // in the future would hold every occurrence back until the clock catches up.
            if try store.scheduleClampLastFired(task: def.name, schedule: id, to: now, ifAfter: now.addingTimeInterval(Self.futureTolerance)) {
                logger.warning("last fired time lies in the future; the clock stepped back, restarting the schedule from now", metadata: [
                    "task": "\(name)", "last_fired": "\(TimeText.format(stored))", "now": "\(TimeText.format(now))",
                ])
            }
            last = now
        }
        guard let from = last else {
            // First sight of this schedule: start from now, nothing is "missed".
            _ = try store.scheduleFire(ScheduleFireParams(task: def.name, schedule: id, jobs: [], lastFired: now))
            return def.enabled ? schedule.next(after: now, in: def.timezone) : nil
        }
        guard def.enabled else {
            // Disabled: occurrences pass without jobs (a later enable starts from then, with
            // nothing counted as missed).
            if let n = schedule.next(after: from, in: def.timezone), n <= now {
                _ = try store.scheduleFire(ScheduleFireParams(task: def.name, schedule: id, jobs: [], lastFired: now))
            }
            return nil
        }
        // The newest 1000 due occurrences (oldest first); with `once` only the latest counts.
        let due = def.missed == .once
            ? schedule.lastOccurrence(after: from, through: now, in: def.timezone).map { [$0] } ?? []
            : schedule.latestOccurrences(after: from, through: now, limit: 1000, in: def.timezone)
        if let latest = due.last {
            let chosen: [Date]
            switch def.missed {
            case .all, .once: chosen = due
            case .skip: chosen = due.filter { now.timeIntervalSince($0) <= grace }
            }
            let jobs = chosen.map { def.newJob(args: sched.args, runAt: $0, scheduledFor: $0, schedule: id) }
            // Occurrences older than `grace` when first seen fell due while no runner was up.
            let staleBefore = now.addingTimeInterval(-grace)
            var catchUp: ScheduleCatchUp?
            if from < staleBefore, let stale = schedule.next(after: from, in: def.timezone), stale <= staleBefore {
                let missed = schedule.count(after: from, through: staleBefore, limit: Self.missedCountLimit, in: def.timezone)
                let run = chosen.filter { $0 <= staleBefore }.count
                catchUp = ScheduleCatchUp(missed: missed, run: run, policy: def.missed.rawValue, from: from, through: now)
                logger.info("occurrences were missed while no runner was up", metadata: [
                    "task": "\(name)", "missed": .stringConvertible(missed), "run": .stringConvertible(run), "policy": "\(def.missed.rawValue)",
                    "since": "\(TimeText.format(from))",
                ])
            }
            let results = try store.scheduleFire(ScheduleFireParams(task: def.name, schedule: id, jobs: jobs, lastFired: latest,
                                                                    catchUp: catchUp))
            var inserted = 0
            for (occurrence, result) in zip(chosen, results) {
                if result.duplicate {
                    if def.unique != nil {
                        logger.info("occurrence skipped: the previous job is still active", metadata: [
                            "task": "\(name)", "scheduled_for": "\(TimeText.format(occurrence))", "job.id": .stringConvertible(result.id),
                        ])
                    }
                } else {
                    inserted += 1
                    CrescentMetrics.scheduleLag(seconds: Date().timeIntervalSince(occurrence))
                    logger.debug("occurrence fired", metadata: ["task": "\(name)", "scheduled_for": "\(TimeText.format(occurrence))", "job.id": .stringConvertible(result.id)])
                }
            }
            if inserted > 0 { onFired() }
        }
        return schedule.next(after: max(now, due.last ?? from), in: def.timezone)
    }

    /// Missed occurrences are counted up to this many (that many means at least that many).
    static let missedCountLimit = 10_000
}
