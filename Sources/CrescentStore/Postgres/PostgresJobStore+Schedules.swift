import CrescentCore
import Foundation

// Schedules and the handlers' key–value store (with the store-read checks at commit).
extension PostgresJobStore {
    // MARK: schedules

    public func scheduleLastFired(task: String, schedule: String) throws -> Date? {
        try read { conn in
            let rows = try conn.query("SELECT last_fired FROM \(s)schedules WHERE task = $1 AND schedule = $2", [task, schedule])
            return rows.count > 0 ? dateFrom(rows.doubleOrNil(0, 0)) : nil
        }
    }

    /// Inserts the occurrences (one job each, ever: `jobs_occurrence` refuses a second one,
    /// which comes back as a duplicate with the existing id, as does one whose unique key is
    /// held) and moves the schedule's last fired time forward, in one transaction.
    public func scheduleFire(_ params: ScheduleFireParams) throws -> [JobInsertResult] {
        try write { conn in
            let results = try insertAll(params.jobs, now: Date(), conn: conn)
            try conn.query("""
                INSERT INTO \(s)schedules AS sc (task, schedule, last_fired) VALUES ($1, $2, $3::float8)
                ON CONFLICT (task, schedule) DO UPDATE SET last_fired = GREATEST(sc.last_fired, EXCLUDED.last_fired)
                """, [params.task, params.schedule, params.lastFired.epoch])
            if let c = params.catchUp {
                try conn.query("""
                    UPDATE \(s)schedules SET missed_count = $3, missed_run = $4, missed_policy = $5,
                           missed_from = $6::float8, missed_through = $7::float8
                    WHERE task = $1 AND schedule = $2
                    """, [params.task, params.schedule, c.missed, c.run, c.policy, c.from.epoch, c.through.epoch])
            }
            if let i = results.firstIndex(where: { !$0.duplicate }) { try notify(params.jobs[i].queue, conn: conn) }
            return results
        }
    }

    public func scheduleClampLastFired(task: String, schedule: String, to: Date, ifAfter limit: Date) throws -> Bool {
        try write { conn in
            try conn.query("""
                UPDATE \(s)schedules SET last_fired = $1::float8 WHERE task = $2 AND schedule = $4 AND last_fired > $3::float8
                """, [to.epoch, task, limit.epoch, schedule]).affected > 0
        }
    }

    public func scheduleRemovePending(task: String, schedule: String, after: Date) throws -> Int {
        try write { conn in
            try conn.query("""
                DELETE FROM \(s)jobs WHERE task = $1 AND schedule = $3 AND state = 'scheduled' AND attempt = 0
                  AND scheduled_for IS NOT NULL AND scheduled_for > $2::float8
                """, [task, after.occurrenceEpoch, schedule]).affected
        }
    }

    public func scheduleStates() throws -> [ScheduleState] {
        try read { conn in
            let rows = try conn.query("""
                SELECT task, schedule, last_fired, missed_count, missed_run, missed_policy, missed_from, missed_through
                FROM \(s)schedules ORDER BY task, schedule
                """)
            return (0..<rows.count).map { r in
                var catchUp: ScheduleCatchUp?
                if let count = rows.int64OrNil(r, 3), let run = rows.int64OrNil(r, 4), let policy = rows.stringOrNil(r, 5),
                   let from = rows.doubleOrNil(r, 6), let through = rows.doubleOrNil(r, 7) {
                    catchUp = ScheduleCatchUp(missed: Int(count), run: Int(run), policy: policy, from: dateFrom(from), through: dateFrom(through))
                }
                return ScheduleState(task: rows.string(r, 0), schedule: rows.string(r, 1), lastFired: dateFrom(rows.double(r, 2)), catchUp: catchUp)
            }
        }
    }

    // MARK: key–value store

    public func storeGet(task: String, key: String) throws -> String? {
        if Self.unstorable(task, key) { return nil }
        return try read { conn in
            let rows = try conn.query("SELECT value FROM \(s)kv WHERE task = $1 AND key = $2", [task, key])
            return rows.count > 0 ? rows.stringOrNil(0, 0) : nil
        }
    }

    /// Writes (or, with a nil value, deletes) keys outside any job, e.g. from the CLI.
    public func storeApply(_ writes: [StoreWrite]) throws {
        if writes.isEmpty { return }
        try write { conn in
            try lockStoreKeys(writes.map { Self.lockName($0.task, $0.key) }, conn: conn)
            try applyStoreWrites(writes, now: Date(), conn: conn)
        }
    }

    /// The keys a batch's successes read or write (what `lockStoreKeys` takes).
    static func storeKeys(of completions: [JobCompletion]) -> [String] {
        var keys: [String] = []
        for c in completions where c.outcome.isSuccess {
            for r in c.storeReads { keys.append(lockName(r.task, r.key)) }
            for w in c.storeWrites { keys.append(lockName(w.task, w.key)) }
        }
        return keys
    }

    static func lockName(_ task: String, _ key: String) -> String { task + "/" + key }

    /// Every transaction that reads-to-check or writes store keys first takes a transaction
    /// advisory lock per key, all in one statement and in one order (no deadlock between
    /// them): a check and the commit after it then see no other host's write in between, and
    /// increments on several hosts add up. (Row locks alone would not cover a key that does
    /// not exist yet.)
    func lockStoreKeys(_ keys: [String], conn: PGConnection) throws {
        guard !keys.isEmpty else { return }
        try conn.query("""
            SELECT pg_advisory_xact_lock(hashtext($1), x.k)
            FROM (SELECT DISTINCT hashtext(u) AS k FROM unnest($2::text[]) AS u ORDER BY 1) AS x
            """, ["crescent kv " + url.schema, PGArray(keys.map { $0 as String? })])
    }

    /// The committed values of `keys` (task, key), nil where absent, in one query.
    func storeValues(_ keys: [(task: String, key: String)], conn: PGConnection) throws -> [String?] {
        guard !keys.isEmpty else { return [] }
        let rows = try conn.query("""
            SELECT u.ord, kv.value FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(task, key, ord)
            LEFT JOIN \(s)kv AS kv ON kv.task = u.task AND kv.key = u.key
            """, [PGArray(keys.map { $0.task as String? }), PGArray(keys.map { $0.key as String? })])
        var values = [String?](repeating: nil, count: keys.count)
        for r in 0..<rows.count {
            let i = rows.int(r, 0) - 1
            if values.indices.contains(i) { values[i] = rows.stringOrNil(r, 1) }
        }
        return values
    }

    /// Whether a key the attempt read now holds another value (A→B→A is no conflict), or a
    /// key it increments without setting it first now holds something other than a number
    /// (as SQLite's `storeConflict`).
    func storeConflict(_ c: JobCompletion, conn: PGConnection) throws -> Bool {
        var own: Set<String> = []
        var incremented: [(task: String, key: String)] = []
        for w in c.storeWrites {
            let name = w.task + "\u{0}" + w.key
            guard w.increment else { own.insert(name); continue }
            if !own.contains(name) { incremented.append((w.task, w.key)) }
        }
        let reads = c.storeReads.map { (task: $0.task, key: $0.key) }
        let values = try storeValues(reads + incremented, conn: conn)
        for (i, r) in c.storeReads.enumerated() where values[i] != r.value { return true }
        for value in values.dropFirst(reads.count) {
            if let text = value, (try? JSONValue.decode(text))?.doubleValue == nil { return true }
        }
        return false
    }

    /// Applies store writes in order: runs of sets and deletes in one statement each (the
    /// last write of a key wins), increments one by one (read, add, write).
    func applyStoreWrites(_ writes: [StoreWrite], now: Date, conn: PGConnection) throws {
        var order: [String] = []
        var last: [String: StoreWrite] = [:]
        func flush() throws {
            guard !order.isEmpty else { return }
            let ws = order.compactMap { last[$0] }
            let sets = ws.filter { $0.value != nil }
            let deletes = ws.filter { $0.value == nil }
            if !sets.isEmpty {
                try conn.query("""
                    INSERT INTO \(s)kv AS kv (task, key, value, updated_at)
                    SELECT u.task, u.key, u.value, $4::float8 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(task, key, value)
                    ON CONFLICT (task, key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at
                    """, [PGArray(sets.map { $0.task as String? }), PGArray(sets.map { $0.key as String? }),
                          PGArray(sets.map(\.value)), now.epoch])
            }
            if !deletes.isEmpty {
                try conn.query("""
                    DELETE FROM \(s)kv AS kv USING unnest($1::text[], $2::text[]) AS u(task, key)
                    WHERE kv.task = u.task AND kv.key = u.key
                    """, [PGArray(deletes.map { $0.task as String? }), PGArray(deletes.map { $0.key as String? })])
            }
            order.removeAll()
            last.removeAll()
        }
        for w in writes {
            if w.increment {
                try flush()
                try storeIncrement(w, now: now, conn: conn)
                continue
            }
            let name = w.task + "\u{0}" + w.key
            if last[name] == nil { order.append(name) }
            last[name] = w
        }
        try flush()
    }

    /// Adds an increment's number to the key's (a missing key counts as 0).
    func storeIncrement(_ w: StoreWrite, now: Date, conn: PGConnection) throws {
        let current = try storeValues([(w.task, w.key)], conn: conn)[0]
        let base: JSONValue? = current == nil ? .int(0) : current.flatMap { try? JSONValue.decode($0) }
        guard let deltaText = w.value, let delta = try? JSONValue.decode(deltaText), let base, let sum = base.adding(delta) else {
            throw CrescentError.failed("store increment of \"\(w.key)\" (task \(w.task)): the key does not hold a number")
        }
        try applyStoreWrites([StoreWrite(task: w.task, key: w.key, value: sum.encoded())], now: now, conn: conn)
    }
}
