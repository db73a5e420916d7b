import CrescentCore
import Foundation

// Claims: one statement per queue that expires, stages and claims.
extension PostgresJobStore {
    public func jobClaim(_ params: JobClaimParams) throws -> [Job] {
        guard params.limit > 0 else { return [] }
        return try jobCompleteAndClaim([], claims: [params], claimBudget: params.limit).claimed[0]
    }

    /// Waiting jobs staged per claim at most (as SQLite's stager): a claim stays short when
    /// many become due at once; the next one stages more.
    static let stageBatch = 1000

    /// The claim of one queue, in one statement (all its parts see the same snapshot, so
    /// each part names the rows it may touch and no row is changed twice):
    ///
    /// - `exp`: jobs past `expires_at` that have not started become `expired` (those another
    ///   claimer holds are left to it: no claimer waits for another);
    /// - `due`: waiting jobs (`scheduled`, `retrying`) whose `run_at` has come, earliest first;
    /// - `q`: the best `limit` queued jobs (by `jobs_claim`'s order, skipping rows other
    ///   claimers hold);
    /// - `pick`: the best `limit` of those and the due ones, by priority desc, run_at, id;
    /// - `stg`: the due jobs not picked become `queued` (the stager);
    /// - the picked jobs become `running`, attempt + 1, owned by the claimer.
    ///
    /// A paused queue (a `control` row named $7) gets nothing picked: its due jobs are staged
    /// and its expired ones expire, none is claimed.
    ///
    /// $1 queue, $2 now, $3 limit, $4 excluded tasks, $5 worker, $6 stage batch, $7 the pause row's name.
    var claimSQL: String {
        """
        WITH exp AS (
            UPDATE \(s)jobs SET state = 'expired', finished_at = $2::float8, error = 'expired before it started'
            WHERE id IN (
                SELECT id FROM \(s)jobs
                WHERE queue = $1 AND expires_at <= $2::float8 AND expires_at IS NOT NULL
                  AND state IN ('scheduled', 'queued', 'retrying')
                FOR UPDATE SKIP LOCKED)
            RETURNING queue AS cq, state AS cs),
        \(countedCTE("exp", sign: 1)),
        due AS MATERIALIZED (
            SELECT id, priority, run_at, task FROM \(s)jobs
            WHERE queue = $1 AND state IN ('scheduled', 'retrying') AND run_at <= $2::float8
              AND (expires_at IS NULL OR expires_at > $2::float8)
            ORDER BY run_at LIMIT $6::int FOR UPDATE SKIP LOCKED),
        paused AS MATERIALIZED (SELECT 1 FROM \(s)control WHERE name = $7),
        q AS MATERIALIZED (
            SELECT id, priority, run_at FROM \(s)jobs
            WHERE queue = $1 AND state = 'queued' AND run_at <= $2::float8 AND NOT EXISTS (SELECT 1 FROM paused)
              AND (expires_at IS NULL OR expires_at > $2::float8) AND task <> ALL($4::text[])
            ORDER BY priority DESC, run_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED),
        pick AS MATERIALIZED (
            SELECT c.id FROM (
                SELECT id, priority, run_at FROM q
                UNION ALL
                SELECT id, priority, run_at FROM due WHERE task <> ALL($4::text[])
            ) c WHERE NOT EXISTS (SELECT 1 FROM paused) ORDER BY c.priority DESC, c.run_at, c.id LIMIT $3::int),
        stg AS (
            UPDATE \(s)jobs SET state = 'queued' FROM due
            WHERE \(s)jobs.id = due.id AND due.id NOT IN (SELECT id FROM pick))
        UPDATE \(s)jobs j SET state = 'running', attempt = j.attempt + 1, lease_owner = $5, started_at = $2::float8,
                              expires_at = NULL, finished_at = NULL
        FROM pick WHERE j.id = pick.id
        RETURNING j.id, j.task, j.priority, j.args, j.attempt, j.max_attempts, j.error, j.unique_key,
                  j.scheduled_for, j.run_at, j.created_at
        """
    }

    /// Claims for one queue inside the current transaction; the jobs in claim order.
    func claim(_ params: JobClaimParams, conn: PGConnection) throws -> [Job] {
        guard params.limit > 0 else { return [] }
        let rows = try conn.query(claimSQL, [params.queue, params.now.epoch, params.limit,
                                             PGArray(params.excludeTasks.map { $0 as String? }), params.worker,
                                             Self.stageBatch, ControlName.pause(params.queue)])
        var jobs: [Job] = []
        jobs.reserveCapacity(rows.count)
        for r in 0..<rows.count {
            jobs.append(Job(
                id: rows.int64(r, 0), task: rows.string(r, 1), queue: params.queue, priority: rows.int(r, 2),
                state: .running, args: rows.string(r, 3), attempt: rows.int(r, 4), maxAttempts: rows.int(r, 5),
                error: rows.stringOrNil(r, 6), uniqueKey: rows.stringOrNil(r, 7),
                scheduledFor: dateFrom(rows.doubleOrNil(r, 8)), runAt: dateFrom(rows.double(r, 9)),
                createdAt: dateFrom(rows.double(r, 10))))
        }
        // RETURNING keeps no order: put them in claim order.
        jobs.sort { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.runAt != b.runAt { return a.runAt < b.runAt }
            return a.id < b.id
        }
        return jobs
    }

    public func jobUnclaim(ids: [Int64], worker: String) throws {
        guard !ids.isEmpty else { return }
        try write { conn in
            let rows = try conn.query("""
                UPDATE \(s)jobs SET state = 'queued', attempt = attempt - 1, lease_owner = NULL, started_at = NULL
                WHERE id = ANY($1::bigint[]) AND state = 'running' AND lease_owner = $2
                RETURNING queue
                """, [PGArray(ids), worker])
            if rows.count > 0 { try notify(rows.string(0, 0), conn: conn) }
        }
    }
}
