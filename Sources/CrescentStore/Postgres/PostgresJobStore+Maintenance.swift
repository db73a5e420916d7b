import CrescentCore
import Foundation

// Operator actions, processes and leases, control, pruning (SQLite's in
// SQLiteJobStore+Jobs.swift and +Maintenance.swift).
extension PostgresJobStore {
    // MARK: operator actions

    /// What a retry by hand sets: queued now, attempts reset.
    static let retrySet = """
        state = 'queued', attempt = 0, run_at = $1, finished_at = NULL, expires_at = NULL,
        lease_owner = NULL, cancel_requested = false, result = NULL
        """

    /// A job whose unique key another active job holds stays put (SQLite's `UPDATE OR
    /// IGNORE`): this condition leaves it out. (A job without a key matches no row here; no
    /// `unique_key IS NULL OR` in front, so the planner may make it an anti-join.)
    func keyFree(_ table: String) -> String {
        """
        NOT EXISTS (
            SELECT 1 FROM \(s)jobs AS a WHERE a.unique_key = \(table).unique_key
              AND a.state IN ('scheduled', 'queued', 'running', 'retrying'))
        """
    }

    /// One at a time, in the order given, so that of two jobs with the same unique key the
    /// first takes it and the second stays put.
    public func jobRetry(ids: [Int64]) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { conn in
            try Self.uniqueRaceRetried(conn) {
                let now = Date().epoch
                var moved: [Int64] = []
                var wake: String?
                for id in ids {
                    let r = try conn.query("""
                        WITH moved AS (
                            UPDATE \(s)jobs SET \(Self.retrySet)
                            FROM (SELECT state AS was FROM \(s)jobs WHERE id = $2) AS old
                            WHERE id = $2 AND state IN ('dead', 'cancelled', 'expired') AND \(keyFree("jobs"))
                            RETURNING queue AS cq, old.was AS cs),
                        \(countedCTE("moved", sign: -1))
                        SELECT cq FROM moved
                        """, [now, id])
                    if r.count == 1 { moved.append(id); wake = wake ?? r.string(0, 0) }
                }
                if let wake { try notify(wake, conn: conn) }
                return moved
            }
        }
    }

    /// All dead jobs at once; of dead jobs sharing a unique key (held by no active job), the
    /// oldest takes it, the others stay dead.
    public func jobRetryAllDead() throws -> Int {
        try write { conn in
            try Self.uniqueRaceRetried(conn) {
                let r = try conn.query("""
                    WITH moved AS (
                        UPDATE \(s)jobs SET \(Self.retrySet)
                        WHERE state = 'dead' AND \(keyFree("jobs")) AND NOT EXISTS (
                            SELECT 1 FROM \(s)jobs AS d WHERE d.unique_key = jobs.unique_key AND d.state = 'dead' AND d.id < jobs.id)
                        RETURNING queue AS cq, 'dead' AS cs),
                    \(countedCTE("moved", sign: -1))
                    SELECT COUNT(*), MIN(cq) FROM moved
                    """, [Date().epoch])
                if let wake = r.stringOrNil(0, 1) { try notify(wake, conn: conn) }
                return r.int(0, 0)
            }
        }
    }

    /// Runs `body` inside a savepoint and, when it meets a unique violation (another host
    /// took a unique key between this statement's check and its write), rolls it back and
    /// runs it again: the new statements see the other job and leave the key alone.
    static func uniqueRaceRetried<T>(_ conn: PGConnection, _ body: () throws -> T) throws -> T {
        var tries = 0
        while true {
            try conn.execute("SAVEPOINT crescent_unique")
            do {
                let value = try body()
                try conn.execute("RELEASE SAVEPOINT crescent_unique")
                return value
            } catch let error as PGError where error.sqlState == "23505" && tries < 5 && !conn.isBroken {
                tries += 1
                try conn.execute("ROLLBACK TO SAVEPOINT crescent_unique")
            }
        }
    }

    /// Returns the ids cancelled or flagged, in the order given (each once).
    public func jobCancel(ids: [Int64]) throws -> [Int64] {
        if ids.isEmpty { return [] }
        let done = try write { conn in
            // Rows locked in id order first, as completions lock theirs: the two never deadlock.
            try conn.query("SELECT id FROM \(s)jobs WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", [PGArray(ids)])
            let r = try conn.query("""
                WITH cancelled AS (
                    UPDATE \(s)jobs SET state = 'cancelled', finished_at = $1
                    WHERE id = ANY($2::bigint[]) AND state IN ('scheduled', 'queued', 'retrying')
                    RETURNING id, queue AS cq, state AS cs),
                \(countedCTE("cancelled", sign: 1)),
                flagged AS (
                    UPDATE \(s)jobs SET cancel_requested = true
                    WHERE id = ANY($2::bigint[]) AND state = 'running' RETURNING id)
                SELECT id FROM cancelled UNION ALL SELECT id FROM flagged
                """, [Date().epoch, PGArray(ids)])
            return Set((0..<r.count).map { r.int64($0, 0) })
        }
        var seen = Set<Int64>()
        return ids.filter { done.contains($0) && seen.insert($0).inserted }
    }

    public func jobCancelRequested(worker: String) throws -> [Int64] {
        try read { conn in
            let r = try conn.query("""
                SELECT id FROM \(s)jobs WHERE state = 'running' AND lease_owner = $1 AND cancel_requested ORDER BY id
                """, [worker])
            return (0..<r.count).map { r.int64($0, 0) }
        }
    }

    // MARK: processes and leases

    public func processRegister(_ process: WorkerProcess) throws {
        try write { conn in
            _ = try conn.query("""
                INSERT INTO \(s)processes (id, host, pid, queues, started_at, heartbeat_at, busy, tasks_version, version, capacity,
                    rss_bytes)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, queues = excluded.queues,
                    started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, busy = excluded.busy,
                    tasks_version = excluded.tasks_version, version = excluded.version, capacity = excluded.capacity,
                    rss_bytes = excluded.rss_bytes, lost_at = NULL, rescued_count = 0, rescued_jobs = '[]'
                """, [process.id, process.host, process.pid,
                      JSONValue.array(process.queues.map(JSONValue.string)).encoded(),
                      process.startedAt.epoch, process.heartbeatAt.epoch, process.busy, process.tasksVersion,
                      process.version, process.capacity, process.rssBytes])
        }
    }

    public func leaseRenew(processID: String, beat: ProcessBeat, now: Date) throws -> Bool {
        try write { conn in
            // Every beat changes the stored value (rescuers watch for changes, not for its age),
            // even from a clock that stands still. A lost row is not renewed.
            try conn.query("""
                UPDATE \(s)processes SET heartbeat_at = CASE WHEN heartbeat_at = $1 THEN $1 + 0.000001 ELSE $1 END,
                    busy = $2, capacity = COALESCE($4, capacity), rss_bytes = COALESCE($5, rss_bytes)
                WHERE id = $3 AND lost_at IS NULL
                """, [now.epoch, beat.busy, processID, beat.capacity, beat.rssBytes]).affected == 1
        }
    }

    public func processDeregister(id: String) throws {
        try write { conn in
            _ = try conn.query("DELETE FROM \(s)processes WHERE id = $1", [id])
            let names = ControlName.processNames(id)
            try conn.query("DELETE FROM \(s)control WHERE name = $1 OR name = $2", [names[0], names[1]])
        }
    }

    public func processList(includingLost: Bool) throws -> [WorkerProcess] {
        try read { conn in
            let r = try conn.query("""
                SELECT id, host, pid, queues, started_at, heartbeat_at, busy, tasks_version, version, capacity, rss_bytes,
                    lost_at, rescued_count, rescued_jobs
                FROM \(s)processes WHERE $1 OR lost_at IS NULL
                ORDER BY lost_at IS NOT NULL, started_at, id COLLATE "C"
                """, [includingLost])
            return (0..<r.count).map { i in
                var queues: [String] = []
                if case .array(let items)? = try? JSONValue.decode(r.string(i, 3)) {
                    queues = items.compactMap(\.stringValue)
                }
                return WorkerProcess(id: r.string(i, 0), host: r.string(i, 1), pid: Int32(clamping: r.int64(i, 2)),
                                     queues: queues, startedAt: dateFrom(r.double(i, 4)),
                                     heartbeatAt: dateFrom(r.double(i, 5)), busy: r.int(i, 6), tasksVersion: r.string(i, 7),
                                     version: r.string(i, 8), capacity: r.int(i, 9), rssBytes: r.int64OrNil(i, 10),
                                     lostAt: r.doubleOrNil(i, 11).map { dateFrom($0) }, rescuedCount: r.int(i, 12),
                                     rescuedJobs: WorkerProcess.rescuedIDs(r.string(i, 13)))
            }
        }
    }

    public func processPruneLost(before: Date, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        return try write { conn in
            try conn.query("""
                DELETE FROM \(s)processes WHERE id IN (SELECT id FROM \(s)processes WHERE lost_at < $1 LIMIT $2)
                """, [before.epoch, limit]).affected
        }
    }

    /// Inside a rescue, the owner's row locked: marks it lost (kept since when it was lost
    /// already) and adds `rescued` to what it records. An owner without a row, or an already
    /// lost one from which nothing more was rescued, is left as it is.
    func markLost(_ owner: String, row: (lostAt: Double?, count: Int, json: String)?, rescued: [Int64], now: Date,
                  conn: PGConnection) throws {
        guard let row else { return }
        let wasLost = row.lostAt != nil
        if wasLost && rescued.isEmpty { return }
        let after = WorkerProcess.rescuedAfter(rescued, previous: wasLost ? (row.count, row.json) : nil)
        try conn.query("""
            UPDATE \(s)processes SET lost_at = COALESCE(lost_at, $1), rescued_count = $2, rescued_jobs = $3 WHERE id = $4
            """, [now.epoch, after.count, after.json, owner])
        let names = ControlName.processNames(owner)
        try conn.query("DELETE FROM \(s)control WHERE name = $1 OR name = $2", [names[0], names[1]])
    }

    /// One statement, so one snapshot: the heartbeats (rows with one) and the owners of
    /// running jobs (rows without) as of the same moment.
    public func leaseView() throws -> LeaseView {
        try read { conn in
            let r = try conn.query("""
                SELECT id, heartbeat_at FROM \(s)processes WHERE lost_at IS NULL
                UNION ALL
                SELECT DISTINCT COALESCE(lease_owner, ''), NULL::double precision FROM \(s)jobs WHERE state = 'running'
                """)
            var heartbeats: [String: Double] = [:]
            var owners = Set<String>()
            for i in 0..<r.count {
                if let beat = r.doubleOrNil(i, 1) { heartbeats[r.string(i, 0)] = beat } else { owners.insert(r.string(i, 0)) }
            }
            return LeaseView(heartbeats: heartbeats, runningOwners: owners)
        }
    }

    /// Rescues the running jobs of each owner in `stale` whose heartbeat value is still the
    /// one given (nil: it still has no live row). The owner's row is locked first (FOR UPDATE):
    /// a heartbeat waits for this transaction and then finds its row lost; a second rescuer
    /// waits, then sees the row lost and leaves the owner alone. The jobs are locked too, and
    /// moved by one fenced UPDATE per owner; their run rows (outcome `aborted`, error `worker
    /// lost`) are written at the end, counted in `run_seconds` under the lost owner's name.
    public func jobRescue(stale: [String: Double?], retryAt: @Sendable (Job) -> Date?) throws -> [Int64] {
        if stale.isEmpty { return [] }
        return try write { conn in
            let now = Date()
            var rescued: [Int64] = []
            var runs: [RunRow] = []
            var finals: [FinalKey: Int] = [:]
            var wake: String?
            for (owner, seen) in stale.sorted(by: { $0.key < $1.key }) {
                // A lost row counts as none (its owner was rescued already); it is locked all the same.
                let beat = try conn.query("""
                    SELECT heartbeat_at, lost_at, rescued_count, rescued_jobs FROM \(s)processes WHERE id = $1 FOR UPDATE
                    """, [owner])
                let row = beat.count == 0 ? nil : (lostAt: beat.doubleOrNil(0, 1), count: beat.int(0, 2), json: beat.string(0, 3))
                guard (row == nil || row?.lostAt != nil ? nil : beat.doubleOrNil(0, 0)) == seen else { continue }
                var fromOwner: [Int64] = []
                let ownedBy = owner.isEmpty ? "lease_owner IS NULL" : "lease_owner = $1"
                let running = try conn.query("""
                    SELECT \(Self.jobReadColumns), cancel_requested FROM \(s)jobs
                    WHERE state = 'running' AND \(ownedBy) ORDER BY id FOR UPDATE
                    """, owner.isEmpty ? [] : [owner])
                var ids: [Int64] = [], attempts: [Int] = [], cancels: [Bool] = []
                var states: [String?] = [], finished: [Double?] = [], runAts: [Double?] = []
                for i in 0..<running.count {
                    let job = Self.readJob(running, i)
                    let cancel = running.bool(i, 16)
                    let t = SQLiteJobStore.transition(.aborted(error: "worker lost", retryAt: retryAt(job)),
                                                      cancelRequested: cancel, finishedAt: now, now: now)
                    ids.append(job.id); attempts.append(job.attempt); cancels.append(cancel)
                    states.append(t.state.rawValue); finished.append(t.finished ? now.epoch : nil); runAts.append(t.runAt?.epoch)
                }
                if !ids.isEmpty {
                    let moved = try conn.query("""
                        UPDATE \(s)jobs AS j SET state = v.state, result = NULL, error = 'worker lost',
                            finished_at = v.fin, run_at = COALESCE(v.run_at, j.run_at), lease_owner = NULL,
                            cancel_requested = CASE WHEN v.state = 'cancelled' THEN j.cancel_requested ELSE false END
                        FROM unnest($1::bigint[], $2::int[], $3::bool[], $4::text[], $5::float8[], $6::float8[])
                             AS v(id, attempt, cancel, state, fin, run_at)
                        WHERE j.id = v.id AND j.state = 'running' AND j.attempt = v.attempt
                          AND j.lease_owner IS NOT DISTINCT FROM $7 AND j.cancel_requested = v.cancel
                        RETURNING j.id, j.attempt, j.started_at, j.queue, v.state
                        """, [PGArray(ids), PGArray(attempts), PGArray(cancels), PGArray(states), PGArray(finished),
                              PGArray(runAts), owner.isEmpty ? nil : owner])
                    let order = (0..<moved.count).sorted { moved.int64($0, 0) < moved.int64($1, 0) }
                    for i in order {
                        fromOwner.append(moved.int64(i, 0))
                        runs.append(RunRow(jobID: moved.int64(i, 0), attempt: moved.int(i, 1),
                                           startedAt: moved.doubleOrNil(i, 2) ?? now.epoch, finishedAt: now.epoch,
                                           outcome: .aborted, error: "worker lost", traceback: nil, worker: owner))
                        if moved.string(i, 4) == JobState.retrying.rawValue { wake = wake ?? moved.string(i, 3) }
                        finals[FinalKey(queue: moved.string(i, 3), state: moved.string(i, 4)), default: 0] += 1
                    }
                }
                rescued += fromOwner
                try markLost(owner, row: row, rescued: fromOwner, now: now, conn: conn)
            }
            try insertRuns(runs, conn: conn)
            try addJobCounts(finals, conn: conn)
            if let wake { try notify(wake, conn: conn) }
            return rescued
        }
    }

    public func jobsOwned(worker: String) throws -> [Int64: Int] {
        try read { conn in
            let r = try conn.query("SELECT id, attempt FROM \(s)jobs WHERE state = 'running' AND lease_owner = $1", [worker])
            var owned: [Int64: Int] = [:]
            for i in 0..<r.count { owned[r.int64(i, 0)] = r.int(i, 1) }
            return owned
        }
    }

    // MARK: control

    public func stopRequest(now: Date) throws {
        try write { conn in
            _ = try conn.query("""
                INSERT INTO \(s)control (name, value) VALUES ('stop', $1)
                ON CONFLICT (name) DO UPDATE SET value = GREATEST(control.value, excluded.value)
                """, [now.epoch])
        }
    }

    public func stopRequested(since: Date) throws -> Bool {
        try read { conn in
            let r = try conn.query("SELECT value FROM \(s)control WHERE name = 'stop'")
            let at = r.count == 0 ? nil : r.doubleOrNil(0, 0)
            return (at ?? -Double.infinity) >= since.epoch
        }
    }

    // MARK: pruning

    /// Deletes up to `limit` jobs of the final `state` finished before `before`, queue by
    /// queue through `jobs_finished` (state, queue, age): each queue's oldest are one range
    /// of it, read in its order (which also keeps a prepared statement's generic plan, which
    /// knows neither the limit nor the cutoff, on the index). Rows are locked with SKIP LOCKED (pruners on two hosts pass each other) and
    /// deleted by their row address; the outer conditions are checked again on a row changed
    /// meanwhile (a retry by hand). Runs go with their job (the `jobs_delete_runs` trigger). Pruning
    /// succeeded jobs also drops `run_seconds` rows older than SQLite's `runTallyKeep`.
    public func jobPrune(state: JobState, before: Date, limit: Int, tasks: [String]?, excluding: [String]) throws -> Int {
        guard limit > 0, state.isFinal else { return 0 }
        if let tasks, tasks.isEmpty { return 0 }
        let condition = Self.stateCondition(state)
        // $4: only these tasks (NULL: all), $5: never these.
        let taskFilter = "AND ($4::text[] IS NULL OR task = ANY($4::text[])) AND task <> ALL($5::text[])"
        return try write { conn in
            let names = try conn.query("""
                WITH RECURSIVE \(queueNamesCTE("q", where: condition)) SELECT name FROM q WHERE name IS NOT NULL
                """)
            if state == .succeeded {  // once per batch: a range of its key, and the counts folded
                try conn.query("DELETE FROM \(s)run_seconds WHERE second < $1",
                               [Self.second(Date().epoch - SQLiteJobStore.runTallyKeep)])
                try foldJobCounts(conn: conn)
            }
            var deleted = 0
            for i in 0..<names.count where deleted < limit {
                let r = try conn.query("""
                    WITH gone AS (
                        DELETE FROM \(s)jobs WHERE ctid = ANY(ARRAY(
                            SELECT ctid FROM \(s)jobs WHERE \(condition) AND queue = $1 AND finished_at < $2 \(taskFilter)
                            ORDER BY finished_at LIMIT $3 FOR UPDATE SKIP LOCKED))
                          AND \(condition) AND finished_at < $2
                        RETURNING queue AS cq, state AS cs),
                    \(countedCTE("gone", sign: -1))
                    SELECT COUNT(*) FROM gone
                    """, [names.string(i, 0), before.epoch, limit - deleted,
                          tasks.map { PGArray($0.map { $0 as String? }) as PGBind }, PGArray(excluding.map { $0 as String? })])
                deleted += r.int(0, 0)
            }
            return deleted
        }
    }

    public func jobExpire(now: Date, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        return try write { conn in
            try conn.query("""
                WITH exp AS (
                    UPDATE \(s)jobs SET state = 'expired', finished_at = $1::float8, error = 'expired before it started'
                    WHERE id IN (
                        SELECT id FROM \(s)jobs
                        WHERE expires_at <= $1::float8 AND expires_at IS NOT NULL AND state IN ('scheduled', 'queued', 'retrying')
                        LIMIT $2 FOR UPDATE SKIP LOCKED)
                    RETURNING queue AS cq, state AS cs),
                \(countedCTE("exp", sign: 1))
                SELECT COUNT(*) FROM exp
                """, [now.epoch, limit]).int(0, 0)
        }
    }
}
