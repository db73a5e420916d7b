import CrescentCore
import Foundation

// Completions: fenced, batched with array binds, their pushes, store writes and run rows in
// the same transaction as the claims of the cycle.
extension PostgresJobStore {
    public func jobCompleteMany(_ completions: [JobCompletion]) throws -> [Bool] {
        if completions.isEmpty { return [] }
        return try jobCompleteAndClaim(completions, claims: [], claimBudget: 0).applied
    }

    /// Completions first (in batch order, so that a success's store writes are seen by the
    /// checks of those after it), then the claims, in one transaction; an error anywhere rolls
    /// back the whole cycle. Round trips: one UPDATE per run of completions without store
    /// checks (with their run rows and counts), one for their pushes, one for their store
    /// writes, one per claimed queue, and one NOTIFY when jobs were inserted or made due again.
    public func jobCompleteAndClaim(_ completions: [JobCompletion], claims: [JobClaimParams],
                                    claimBudget: Int) throws -> (applied: [Bool], claimed: [[Job]], conflicts: [Int]) {
        try write { conn in
            let now = Date()
            var applied = [Bool](repeating: false, count: completions.count)
            var conflicts: [Int] = []
            var work = CycleWork()
            if !completions.isEmpty {
                try lockStoreKeys(Self.storeKeys(of: completions), conn: conn)
                var i = 0
                while i < completions.count {
                    if !completions[i].needsStoreCheck {
                        var end = i + 1
                        while end < completions.count, !completions[end].needsStoreCheck { end += 1 }
                        let flags = try finishBatch(completions[i..<end].map { ($0, $0.outcome) }, now: now, conn: conn, work: &work)
                        for (k, flag) in flags.enumerated() { applied[i + k] = flag }
                        i = end
                        continue
                    }
                    let c = completions[i]
                    let conflict = try storeConflict(c, conn: conn)
                    let flag = try finishBatch([(c, conflict ? .conflict : c.outcome)], now: now, conn: conn, work: &work)[0]
                    applied[i] = flag
                    if conflict && flag { conflicts.append(i) }
                    i += 1
                }
            }
            // Applied successes marked `removeOnSuccess` go at once, with their runs.
            let removed = completions.indices.filter { completions[$0].removeOnSuccess && applied[$0] && completions[$0].outcome.isSuccess }
            if !removed.isEmpty {
                try conn.query("""
                    WITH gone AS (
                        DELETE FROM \(s)jobs WHERE id = ANY($1::bigint[]) AND state = 'succeeded' RETURNING queue AS cq, state AS cs),
                    \(countedCTE("gone", sign: -1))
                    SELECT 1
                    """, [PGArray(removed.map { completions[$0].jobID as Int64? })])
            }
            var budget = claimBudget
            var claimed: [[Job]] = []
            claimed.reserveCapacity(claims.count)
            for var params in claims {
                params.limit = min(params.limit, budget)
                let jobs = try claim(params, conn: conn)
                budget -= jobs.count
                claimed.append(jobs)
            }
            if let queue = work.wake { try notify(queue, conn: conn) }
            return (applied, claimed, conflicts)
        }
    }

    /// What a cycle's completions leave for the end of its transaction.
    struct CycleWork {
        /// A queue that got work (pushes, jobs due again): NOTIFY before commit.
        var wake: String?
    }

    /// The fenced, set-wise finish: each row applies only to a job still `running` that
    /// attempt for that owner, with `cancel_requested` as $13 says. The rows are locked
    /// first in id order (`l`), as the rescuer and cancel lock them: a cancel or a rescue of
    /// the same jobs on another host waits instead of deadlocking with it. The applied rows'
    /// run rows and their counts in `run_seconds` (this process's rows: the key holds the
    /// worker, so runners on several hosts never wait on each other's counters) are written
    /// by the same statement. Returns the applied rows' `ord` (their index in the arrays)
    /// and the job's queue.
    var finishSQL: String {
        """
        WITH l AS MATERIALIZED (
            SELECT id FROM \(s)jobs WHERE id = ANY($1::bigint[]) AND state = 'running' ORDER BY id FOR UPDATE),
        moved AS (
            UPDATE \(s)jobs j SET state = v.state, result = v.result,
                error = CASE WHEN v.keep THEN j.error ELSE v.error END,
                finished_at = v.fin, run_at = COALESCE(v.run_at, j.run_at), attempt = j.attempt + v.ad,
                max_attempts = j.max_attempts + v.md, lease_owner = NULL,
                cancel_requested = CASE WHEN v.state = 'cancelled' THEN j.cancel_requested ELSE false END
            FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::text[],
                        $8::float8[], $9::float8[], $10::int[], $11::int[], $12::int[],
                        $14::float8[], $15::float8[], $16::text[], $17::text[], $18::text[], $19::bigint[])
                 AS v(id, attempt, owner, state, result, keep, error, fin, run_at, ad, md, ord,
                      started, ended, outcome, run_error, traceback, second), l
            WHERE l.id = v.id AND j.id = v.id AND j.state = 'running' AND j.attempt = v.attempt
              AND j.lease_owner IS NOT DISTINCT FROM v.owner AND j.cancel_requested = $13::bool
            RETURNING v.ord, j.queue, v.id, v.attempt, COALESCE(v.started, j.started_at, v.ended) AS started, v.ended,
                      v.outcome, v.run_error, v.traceback, v.owner, v.second, j.queue AS cq, v.state AS cs),
        \(countedCTE("moved", sign: 1)),
        r AS (
            INSERT INTO \(s)runs (job_id, attempt, started_at, finished_at, outcome, error, traceback, worker)
            SELECT id, attempt, started, ended, outcome, run_error, traceback, owner FROM moved ORDER BY ord),
        t AS (
            INSERT INTO \(s)run_seconds AS t (second, outcome, worker, n)
            SELECT second, outcome, owner, COUNT(*) FROM moved GROUP BY second, outcome, owner
            ON CONFLICT (second, outcome, worker) DO UPDATE SET n = t.n + EXCLUDED.n)
        SELECT ord, queue FROM moved
        """
    }

    /// Applies completions (each with the outcome to apply) in one statement, then, for
    /// those not applied, once more as if a cancel was requested (nearly never the case).
    /// Inserts the applied successes' pushes and applies their store writes. Returns which
    /// applied.
    func finishBatch(_ items: [(c: JobCompletion, outcome: CompletionOutcome)], now: Date, conn: PGConnection,
                     work: inout CycleWork) throws -> [Bool] {
        var applied = [Bool](repeating: false, count: items.count)
        var pending = Array(items.indices)
        for cancelRequested in [false, true] where !pending.isEmpty {
            let ts = pending.map {
                SQLiteJobStore.transition(items[$0].outcome, cancelRequested: cancelRequested, finishedAt: items[$0].c.finishedAt, now: now)
            }
            let cs = pending.map { items[$0].c }
            let rows = try conn.query(finishSQL, [
                PGArray(cs.map(\.jobID)), PGArray(cs.map(\.attempt)), PGArray(cs.map { $0.worker as String? }),
                PGArray(ts.map { $0.state.rawValue as String? }), PGArray(ts.map(\.result)), PGArray(ts.map(\.keepError)),
                PGArray(ts.map(\.error)), PGArray(zip(ts, cs).map { $0.finished ? $1.finishedAt.epoch : nil }),
                PGArray(ts.map { $0.runAt?.epoch }), PGArray(ts.map(\.attemptDelta)), PGArray(ts.map(\.maxAttemptsDelta)),
                PGArray(cs.indices.map { $0 }), cancelRequested,
                PGArray(cs.map { $0.startedAt?.epoch }), PGArray(cs.map { $0.finishedAt.epoch as Double? }),
                PGArray(ts.map { $0.runOutcome.rawValue as String? }), PGArray(ts.map(\.runError)), PGArray(ts.map(\.traceback)),
                PGArray(cs.map { Self.second($0.finishedAt.epoch) }),
            ])
            var done = Set<Int>()
            for r in 0..<rows.count {
                let k = rows.int(r, 0)
                guard cs.indices.contains(k), !done.contains(k) else { continue }
                done.insert(k)
                applied[pending[k]] = true
                let state = ts[k].state
                if state == .queued || state == .scheduled || state == .retrying { work.wake = rows.string(r, 1) }
            }
            pending = pending.enumerated().filter { !done.contains($0.offset) }.map(\.element)
        }
        // The applied successes' side effects, in batch order.
        var pushes: [JobInsertParams] = []
        var writes: [StoreWrite] = []
        for (k, item) in items.enumerated() where applied[k] && item.outcome.isSuccess {
            pushes.append(contentsOf: item.c.pushes)
            writes.append(contentsOf: item.c.storeWrites)
        }
        if !pushes.isEmpty {
            let results = try insertAll(pushes, now: now, conn: conn)
            if let i = results.firstIndex(where: { !$0.duplicate }) { work.wake = pushes[i].queue }
        }
        if !writes.isEmpty { try applyStoreWrites(writes, now: now, conn: conn) }
        // The applied completions' last progress, whatever their outcome.
        let progressed = items.indices.filter { applied[$0] && items[$0].c.progress != nil }
        if !progressed.isEmpty {
            try conn.query("""
                UPDATE \(s)jobs j SET progress = v.p FROM unnest($1::bigint[], $2::text[]) AS v(id, p) WHERE j.id = v.id
                """, [PGArray(progressed.map { items[$0].c.jobID }), PGArray(progressed.map { items[$0].c.progress?.stored() })])
        }
        return applied
    }

    /// Writes run rows and adds them to `run_seconds` (this process's rows: the key holds
    /// the worker, so runners on several hosts never wait on each other's counters), in one
    /// statement.
    func insertRuns(_ runs: [RunRow], conn: PGConnection) throws {
        guard !runs.isEmpty else { return }
        var tallies: [TallyKey: Int] = [:]
        for r in runs { tallies[TallyKey(second: Self.second(r.finishedAt), outcome: r.outcome.rawValue, worker: r.worker), default: 0] += 1 }
        let keys = Array(tallies.keys)
        try conn.query("""
            WITH r AS (
                INSERT INTO \(s)runs (job_id, attempt, started_at, finished_at, outcome, error, traceback, worker)
                SELECT * FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::float8[], $5::text[], $6::text[],
                                     $7::text[], $8::text[]))
            INSERT INTO \(s)run_seconds AS t (second, outcome, worker, n)
            SELECT * FROM unnest($9::bigint[], $10::text[], $11::text[], $12::int[])
            ON CONFLICT (second, outcome, worker) DO UPDATE SET n = t.n + EXCLUDED.n
            """, [
                PGArray(runs.map(\.jobID)), PGArray(runs.map(\.attempt)), PGArray(runs.map { $0.startedAt as Double? }),
                PGArray(runs.map { $0.finishedAt as Double? }), PGArray(runs.map { $0.outcome.rawValue as String? }),
                PGArray(runs.map(\.error)), PGArray(runs.map(\.traceback)), PGArray(runs.map { $0.worker as String? }),
                PGArray(keys.map(\.second)), PGArray(keys.map { $0.outcome as String? }),
                PGArray(keys.map { $0.worker as String? }), PGArray(keys.map { tallies[$0] ?? 0 }),
            ])
    }

    struct TallyKey: Hashable {
        var second: Int64
        var outcome: String
        var worker: String
    }

    /// The whole second of an epoch time, never trapping (a time beyond the range clamps).
    static func second(_ epoch: Double) -> Int64 {
        let d = epoch.rounded(.down)
        guard d.isFinite else { return d > 0 ? Int64.max : (d < 0 ? Int64.min : 0) }
        if d >= 9.2e18 { return Int64.max }
        if d <= -9.2e18 { return Int64.min }
        return Int64(d)
    }
}
