import CrescentCore
import Foundation
import GRDB

// Schedules, the handlers' key–value store, processes and leases, control, pruning.
extension SQLiteJobStore {
    // MARK: schedules

    public func scheduleLastFired(task: String, schedule: String) throws -> Date? {
        try read { db in
            dateFrom(try Double.fetchOne(db, sql: "SELECT last_fired FROM schedules WHERE task = ? AND schedule = ?",
                                         arguments: [task, schedule]))
        }
    }

    /// Inserts the occurrences (one job each, ever: an occurrence already present comes
    /// back as a duplicate with the existing id, as does one whose unique key is held) and
    /// moves the schedule's last fired time forward, in one transaction.
    public func scheduleFire(_ params: ScheduleFireParams) throws -> [JobInsertResult] {
        try write { db in
            let results = try Self.insertAll(params.jobs, now: Date(), in: HotStatements(db))
            try db.execute(sql: """
                INSERT INTO schedules (task, schedule, last_fired) VALUES (?, ?, ?)
                ON CONFLICT (task, schedule) DO UPDATE SET last_fired = MAX(last_fired, excluded.last_fired)
                """, arguments: [params.task, params.schedule, params.lastFired.epoch])
            if let c = params.catchUp {
                try db.execute(sql: """
                    UPDATE schedules SET missed_count = ?, missed_run = ?, missed_policy = ?, missed_from = ?, missed_through = ?
                    WHERE task = ? AND schedule = ?
                    """, arguments: [c.missed, c.run, c.policy, c.from.epoch, c.through.epoch, params.task, params.schedule])
            }
            return results
        }
    }

    public func scheduleClampLastFired(task: String, schedule: String, to: Date, ifAfter limit: Date) throws -> Bool {
        try write { db in
            try db.execute(sql: "UPDATE schedules SET last_fired = ? WHERE task = ? AND schedule = ? AND last_fired > ?",
                           arguments: [to.epoch, task, schedule, limit.epoch])
            return db.changesCount > 0
        }
    }

    public func scheduleRemovePending(task: String, schedule: String, after: Date) throws -> Int {
        try write { db in
            try db.execute(sql: """
                DELETE FROM jobs WHERE task = ? AND schedule = ? AND state = 'scheduled' AND attempt = 0
                  AND scheduled_for IS NOT NULL AND scheduled_for > ?
                """, arguments: [task, schedule, after.occurrenceEpoch])
            return db.changesCount
        }
    }

    public func scheduleStates() throws -> [ScheduleState] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT task, schedule, last_fired, missed_count, missed_run, missed_policy, missed_from, missed_through
                FROM schedules ORDER BY task, schedule
                """).map { row in
                var catchUp: ScheduleCatchUp?
                if let count = row[3] as Int?, let run = row[4] as Int?, let policy = row[5] as String?,
                   let from = row[6] as Double?, let through = row[7] as Double? {
                    catchUp = ScheduleCatchUp(missed: count, run: run, policy: policy, from: dateFrom(from), through: dateFrom(through))
                }
                return ScheduleState(task: row[0], schedule: row[1], lastFired: dateFrom(row[2] as Double), catchUp: catchUp)
            }
        }
    }

    // MARK: key–value store

    public func storeGet(task: String, key: String) throws -> String? {
        try read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM kv WHERE task = ? AND key = ?"), arguments: [task, key])
        }
    }

    /// Writes (or, with a nil value, deletes) keys outside any job, e.g. from the CLI.
    public func storeApply(_ writes: [StoreWrite]) throws {
        if writes.isEmpty { return }
        try write { db in
            let now = Date()
            for w in writes { try Self.storeWrite(w, now: now, db: db) }
        }
    }

    // MARK: processes and leases

    public func processRegister(_ process: WorkerProcess) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO processes (id, host, pid, queues, started_at, heartbeat_at, busy, tasks_version, version, capacity, rss_bytes)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, busy = excluded.busy,
                    tasks_version = excluded.tasks_version, version = excluded.version, capacity = excluded.capacity,
                    rss_bytes = excluded.rss_bytes, lost_at = NULL, rescued_count = 0, rescued_jobs = '[]'
                """, arguments: [process.id, process.host, process.pid,
                                 JSONValue.array(process.queues.map(JSONValue.string)).encoded(),
                                 process.startedAt.epoch, process.heartbeatAt.epoch, process.busy, process.tasksVersion,
                                 process.version, process.capacity, process.rssBytes])
        }
    }

    public func leaseRenew(processID: String, beat: ProcessBeat, now: Date) throws -> Bool {
        try write { db in
            // Every beat changes the stored value (rescuers watch for changes, not for its age),
            // even from a clock that stands still. A lost row is not renewed.
            let stmt = try db.cachedStatement(sql: """
                UPDATE processes SET heartbeat_at = CASE WHEN heartbeat_at = ?1 THEN ?1 + 0.000001 ELSE ?1 END, busy = ?2,
                    capacity = COALESCE(?4, capacity), rss_bytes = COALESCE(?5, rss_bytes)
                WHERE id = ?3 AND lost_at IS NULL
                """)
            try stmt.execute(arguments: [now.epoch, beat.busy, processID, beat.capacity, beat.rssBytes])
            return db.changesCount == 1
        }
    }

    public func processDeregister(id: String) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM processes WHERE id = ?", arguments: [id])
            try Self.removeProcessRequests(id, db: db)
        }
    }

    public func processList(includingLost: Bool) throws -> [WorkerProcess] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, host, pid, queues, started_at, heartbeat_at, busy, tasks_version, version, capacity, rss_bytes,
                    lost_at, rescued_count, rescued_jobs
                FROM processes WHERE ? OR lost_at IS NULL ORDER BY lost_at IS NOT NULL, started_at, id
                """, arguments: [includingLost]).map { row in
                let queuesText: String = row[3]
                var queues: [String] = []
                if case .array(let items)? = try? JSONValue.decode(queuesText) {
                    queues = items.compactMap(\.stringValue)
                }
                return WorkerProcess(id: row[0], host: row[1], pid: row[2], queues: queues,
                                     startedAt: dateFrom(row[4] as Double), heartbeatAt: dateFrom(row[5] as Double),
                                     busy: row[6], tasksVersion: row[7], version: row[8], capacity: row[9], rssBytes: row[10],
                                     lostAt: dateFrom(row[11] as Double?), rescuedCount: row[12],
                                     rescuedJobs: WorkerProcess.rescuedIDs(row[13]))
            }
        }
    }

    public func processPruneLost(before: Date, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        return try write { db in
            try db.execute(sql: """
                DELETE FROM processes WHERE id IN (SELECT id FROM processes WHERE lost_at < ? AND lost_at IS NOT NULL LIMIT ?)
                """, arguments: [before.epoch, limit])
            return db.changesCount
        }
    }

    public func leaseView() throws -> LeaseView {
        try read { db in
            var heartbeats: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, heartbeat_at FROM processes WHERE lost_at IS NULL") {
                heartbeats[row[0]] = row[1]
            }
            let owners = try String.fetchAll(db, sql: """
                SELECT DISTINCT COALESCE(lease_owner, '') FROM jobs INDEXED BY jobs_running WHERE state = 'running'
                """)
            return LeaseView(heartbeats: heartbeats, runningOwners: Set(owners))
        }
    }

    /// Inside a rescue: marks the owner's row lost (kept since when it was lost already) and
    /// adds `rescued` to what it records. An owner without a row, or an already lost one from
    /// which nothing more was rescued, is left as it is.
    static func markLost(_ owner: String, rescued: [Int64], now: Date, db: Database) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT lost_at, rescued_count, rescued_jobs FROM processes WHERE id = ?
            """), arguments: [owner]) else { return }
        let wasLost = (row[0] as Double?) != nil
        if wasLost && rescued.isEmpty { return }
        let after = WorkerProcess.rescuedAfter(rescued, previous: wasLost ? (row[1], row[2]) : nil)
        try db.cachedStatement(sql: """
            UPDATE processes SET lost_at = COALESCE(lost_at, ?), rescued_count = ?, rescued_jobs = ? WHERE id = ?
            """).execute(arguments: [now.epoch, after.count, after.json, owner])
        try removeProcessRequests(owner, db: db)
    }

    public func jobRescue(stale: [String: Double?], retryAt: @Sendable (Job) -> Date?) throws -> [Int64] {
        if stale.isEmpty { return [] }
        return try write { db in
            let now = Date()
            let beat = try db.cachedStatement(sql: "SELECT heartbeat_at FROM processes WHERE id = ? AND lost_at IS NULL")
            let select = try db.cachedStatement(sql: """
                SELECT \(Self.jobColumns), lease_owner, started_at FROM jobs INDEXED BY jobs_running
                WHERE state = 'running' AND COALESCE(lease_owner, '') = ? ORDER BY id
                """)
            var rescued: [Int64] = []
            let hot = HotStatements(db)
            for (owner, seen) in stale.sorted(by: { $0.key < $1.key }) {
                // Under the write lock: the owner has not heart-beat since it was seen.
                guard try Double.fetchOne(beat, arguments: [owner]) == seen else { continue }
                var fromOwner: [Int64] = []
                for row in try Row.fetchAll(select, arguments: [owner]) {
                    let job = Self.job(from: row)
                    let worker: String? = row[16]
                    let startedAt: Double? = row[17]
                    if try Self.finish(jobID: job.id, queue: job.queue, attempt: job.attempt, worker: worker, startedAt: dateFrom(startedAt),
                                       outcome: .aborted(error: "worker lost", retryAt: retryAt(job)),
                                       finishedAt: now, now: now, in: hot) {
                        fromOwner.append(job.id)
                    }
                }
                rescued += fromOwner
                try Self.markLost(owner, rescued: fromOwner, now: now, db: db)
            }
            try hot.flushRuns()
            return rescued
        }
    }

    public func jobsOwned(worker: String) throws -> [Int64: Int] {
        try read { db in
            var owned: [Int64: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT id, attempt FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND lease_owner = ?
                """, arguments: [worker]) {
                owned[row[0]] = row[1]
            }
            return owned
        }
    }

    // MARK: control

    public func stopRequest(now: Date) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO control (name, value) VALUES ('stop', ?)
                ON CONFLICT (name) DO UPDATE SET value = MAX(value, excluded.value)
                """, arguments: [now.epoch])
        }
    }

    public func stopRequested(since: Date) throws -> Bool {
        try read { db in
            let at = try Double.fetchOne(db.cachedStatement(sql: "SELECT value FROM control WHERE name = 'stop'"))
            return (at ?? -Double.infinity) >= since.epoch
        }
    }

    // MARK: pruning

    public func jobPrune(state: JobState, before: Date, limit: Int, tasks: [String]?, excluding: [String]) throws -> Int {
        guard limit > 0, state.isFinal else { return 0 }
        if let tasks, tasks.isEmpty { return 0 }
        return try write { db in
            // `jobs_finished` is ordered by state, queue, then age: the oldest are found queue
            // by queue.
            let queues = try Self.queueNames(in: "jobs_finished", where: "state = ?1 AND finished_at IS NOT NULL",
                                             arguments: [state.rawValue], db: db)
            // Runs go with their job (ON DELETE CASCADE).
            func list(_ names: [String]) -> String { "(" + names.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ",") + ")" }
            let only = tasks.map { "AND task IN \(list($0))" } ?? ""
            let except = excluding.isEmpty ? "" : "AND task NOT IN \(list(excluding))"
            let delete = try db.cachedStatement(sql: """
                DELETE FROM jobs WHERE id IN (
                    SELECT id FROM jobs INDEXED BY jobs_finished
                    WHERE state = ? AND queue = ? AND finished_at < ? AND finished_at IS NOT NULL \(only) \(except) LIMIT ?)
                """)
            if state == .succeeded {  // once per batch: a seek on its key
                try db.cachedStatement(sql: "DELETE FROM run_seconds WHERE second < ?")
                    .execute(arguments: [(Date().epoch - Self.runTallyKeep).rounded(.down)])
            }
            var deleted = 0
            for queue in queues where deleted < limit {
                try delete.execute(arguments: [state.rawValue, queue, before.epoch, limit - deleted])
                deleted += db.changesCount
                try Self.countFinal(queue: queue, state: state.rawValue, by: -db.changesCount, db: db)
            }
            return deleted
        }
    }

    public func jobExpire(now: Date, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        return try write { db in
            try Self.countFinal(db.cachedStatement(sql: """
                UPDATE jobs SET state = 'expired', finished_at = ?1, error = 'expired before it started'
                WHERE id IN (
                    SELECT id FROM jobs INDEXED BY jobs_expiry
                    WHERE expires_at <= ?1 AND expires_at IS NOT NULL
                      AND (state = 'scheduled' OR state = 'queued' OR state = 'retrying') LIMIT ?2)
                RETURNING queue
                """), arguments: [now.epoch, limit], state: JobState.expired.rawValue, sign: 1, db: db)
        }
    }
}
