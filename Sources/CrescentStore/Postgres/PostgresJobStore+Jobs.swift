import CrescentCore
import Foundation

// Inserting jobs (enqueue, `queue.push`, schedule occurrences), id reservations, unique keys.
extension PostgresJobStore {
    public func jobInsert(_ params: JobInsertParams) throws -> JobInsertResult {
        try write { conn in
            let result = try insertAll([params], now: Date(), conn: conn)[0]
            if !result.duplicate { try notify(params.queue, conn: conn) }
            return result
        }
    }

    public func jobInsertMany(_ params: [JobInsertParams]) throws -> [JobInsertResult] {
        if params.isEmpty { return [] }
        return try write { conn in
            let results = try insertAll(params, now: Date(), conn: conn)
            if let i = results.firstIndex(where: { !$0.duplicate }) { try notify(params[i].queue, conn: conn) }
            return results
        }
    }

    public func jobReserveIDs(count: Int) throws -> [Int64] {
        let n = max(count, 1)
        return try read { conn in
            let rows = try conn.query("SELECT nextval('\(s)jobs_id_seq') FROM generate_series(1, $1::int)", [n])
            return (0..<rows.count).map { rows.int64($0, 0) }.sorted()
        }
    }

    public func jobFindActiveUnique(key: String, period: Double?, now: Date) throws -> Int64? {
        if Self.unstorable(key) { return nil }
        return try read { conn in try findUnique(key: key, period: period, now: now, conn: conn) }
    }

    // MARK: wake-ups

    /// Wakes idle runners on every host when this transaction commits (PostgreSQL delivers a
    /// NOTIFY at commit, once per distinct payload). Nothing behind PgBouncer's transaction
    /// mode, where nobody listens.
    func notify(_ queue: String, conn: PGConnection) throws {
        if url.pollOnly { return }
        try conn.query("SELECT pg_notify($1, $2)", [Self.channel(url.schema), String(queue.prefix(200))])
    }

    // MARK: inserting

    /// Whether a job can go in a set-wise insert: no unique key and no occurrence to look for.
    static func isPlain(_ p: JobInsertParams) -> Bool { p.uniqueKey == nil && p.scheduledFor == nil }

    /// Inserts jobs in order inside the current transaction: runs of plain jobs in one
    /// statement each, the others (unique keys, schedule occurrences) one by one.
    func insertAll(_ params: [JobInsertParams], now: Date, conn: PGConnection) throws -> [JobInsertResult] {
        var results: [JobInsertResult] = []
        results.reserveCapacity(params.count)
        var i = 0
        while i < params.count {
            if Self.isPlain(params[i]) {
                var end = i + 1
                while end < params.count, Self.isPlain(params[end]) { end += 1 }
                let ids = try insertPlain(params[i..<end], now: now, conn: conn)
                results.append(contentsOf: ids.map { JobInsertResult(id: $0, duplicate: false) })
                i = end
            } else {
                results.append(try insertOne(params[i], now: now, conn: conn))
                i += 1
            }
        }
        return results
    }

    /// The SQL of a set-wise insert: one row per element of the arrays; a row without a
    /// reserved id takes the next one of the sequence. Answers the ids in the rows' order.
    var insertPlainSQL: String {
        """
        WITH v AS MATERIALIZED (
            SELECT COALESCE(u.id, nextval('\(s)jobs_id_seq')) AS id, u.task, u.queue, u.priority, u.state, u.args,
                   u.max_attempts, u.run_at, u.expires_at, u.ord
            FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[],
                        $8::float8[], $9::float8[])
                 WITH ORDINALITY AS u(id, task, queue, priority, state, args, max_attempts, run_at, expires_at, ord)),
        ins AS (
            INSERT INTO \(s)jobs (id, task, queue, priority, state, args, attempt, max_attempts, run_at, created_at, expires_at)
            SELECT id, task, queue, priority, state, args, 0, max_attempts, run_at, $10::float8, expires_at FROM v)
        SELECT id FROM v ORDER BY ord
        """
    }

    /// The same when every row has its reserved id (`queue.push`): nothing to read back.
    var insertReservedSQL: String {
        """
        INSERT INTO \(s)jobs (id, task, queue, priority, state, args, attempt, max_attempts, run_at, created_at, expires_at)
        SELECT u.id, u.task, u.queue, u.priority, u.state, u.args, 0, u.max_attempts, u.run_at, $10::float8, u.expires_at
        FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::int[],
                    $8::float8[], $9::float8[])
             AS u(id, task, queue, priority, state, args, max_attempts, run_at, expires_at)
        """
    }

    /// Inserts plain jobs in one statement; returns their ids in order.
    func insertPlain(_ ps: ArraySlice<JobInsertParams>, now: Date, conn: PGConnection) throws -> [Int64] {
        let reserved = ps.compactMap(\.id)
        if reserved.count == ps.count {
            try conn.query(insertReservedSQL, insertBinds(ps, now: now))
            return reserved
        }
        let rows = try conn.query(insertPlainSQL, insertBinds(ps, now: now))
        guard rows.count == ps.count else {
            throw CrescentError.failed("insert of \(ps.count) jobs returned \(rows.count) ids")
        }
        return (0..<rows.count).map { rows.int64($0, 0) }
    }

    private func insertBinds(_ ps: ArraySlice<JobInsertParams>, now: Date) -> [PGBind?] {
        [PGArray(ps.map(\.id)), PGArray(ps.map { $0.task as String? }), PGArray(ps.map { $0.queue as String? }),
         PGArray(ps.map(\.priority)),
         PGArray(ps.map { ($0.runAt > now ? JobState.scheduled : .queued).rawValue as String? }),
         PGArray(ps.map { $0.args as String? }), PGArray(ps.map(\.maxAttempts)),
         PGArray(ps.map { $0.runAt.epoch as Double? }), PGArray(ps.map { $0.expiresAt?.epoch }), now.epoch]
    }

    static let insertColumns = """
        id, task, queue, priority, state, args, attempt, max_attempts, unique_key, unique_period, scheduled_for,
        run_at, created_at, expires_at, schedule
        """

    /// One job with a unique key or an occurrence: a duplicate answers the holder's id (an
    /// active job with the key, a recent one within `uniquePeriod`, or the occurrence's job).
    /// The partial unique indexes decide races between hosts: ON CONFLICT DO NOTHING waits
    /// for a concurrent insert of the same key, then finds its job.
    func insertOne(_ p: JobInsertParams, now: Date, conn: PGConnection) throws -> JobInsertResult {
        if let key = p.uniqueKey, let period = p.uniquePeriod,
           let existing = try findUnique(key: key, period: period, now: now, conn: conn) {
            return JobInsertResult(id: existing, duplicate: true)
        }
        let state: JobState = p.runAt > now ? .scheduled : .queued
        let binds: [PGBind?] = [
            p.id, p.task, p.queue, p.priority, state.rawValue, p.args, p.maxAttempts, p.uniqueKey,
            p.uniqueKey == nil ? nil : p.uniquePeriod, p.scheduledFor?.occurrenceEpoch, p.runAt.epoch, now.epoch,
            p.expiresAt?.epoch, p.schedule,
        ]
        let values = """
            VALUES (COALESCE($1::bigint, nextval('\(s)jobs_id_seq')), $2, $3, $4, $5, $6, 0, $7, $8, $9::float8,
                    $10::float8, $11::float8, $12::float8, $13::float8, $14)
            """
        let inserted = try conn.query("""
            INSERT INTO \(s)jobs (\(Self.insertColumns)) \(values) ON CONFLICT DO NOTHING RETURNING id
            """, binds)
        if inserted.count == 1 { return JobInsertResult(id: inserted.int64(0, 0), duplicate: false) }
        if let key = p.uniqueKey, let existing = try findUnique(key: key, period: nil, now: now, conn: conn) {
            return JobInsertResult(id: existing, duplicate: true)
        }
        if let at = p.scheduledFor {
            let found = try conn.query("""
                SELECT id FROM \(s)jobs WHERE task = $1 AND schedule = $3 AND scheduled_for = $2::float8 AND scheduled_for IS NOT NULL
                """, [p.task, at.occurrenceEpoch, p.schedule])
            if found.count > 0 { return JobInsertResult(id: found.int64(0, 0), duplicate: true) }
        }
        // Ignored for another reason (a reserved id already used): let PostgreSQL say why.
        let again = try conn.query("INSERT INTO \(s)jobs (\(Self.insertColumns)) \(values) RETURNING id", binds)
        guard again.count == 1 else { throw CrescentError.failed("insert of a job of \(p.task) returned no id") }
        return JobInsertResult(id: again.int64(0, 0), duplicate: false)
    }

    /// An active job holding `key`, else (with `period`) the newest finished within it.
    func findUnique(key: String, period: Double?, now: Date, conn: PGConnection) throws -> Int64? {
        let active = try conn.query("""
            SELECT id FROM \(s)jobs WHERE unique_key = $1 AND unique_key IS NOT NULL
              AND state IN ('scheduled', 'queued', 'running', 'retrying')
            """, [key])
        if active.count > 0 { return active.int64(0, 0) }
        guard let period, period > 0 else { return nil }
        let recent = try conn.query("""
            SELECT id FROM \(s)jobs WHERE unique_key = $1 AND unique_key IS NOT NULL AND finished_at >= $2::float8
            ORDER BY finished_at DESC LIMIT 1
            """, [key, now.epoch - period])
        return recent.count > 0 ? recent.int64(0, 0) : nil
    }
}
