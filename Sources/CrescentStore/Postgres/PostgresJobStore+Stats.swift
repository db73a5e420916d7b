import CrescentCore
import Foundation

// Health, run statistics and due times (SQLite's in SQLiteJobStore+Stats.swift).
extension PostgresJobStore {
    /// Answers when the database can be queried; throws otherwise (`/healthz`). On a
    /// connection of its own, made for the check: it never waits for one of the pool's,
    /// which dashboard requests or a stalled pipeline may all hold.
    public func ping() throws {
        do {
            let conn = try PGConnection(conninfo: url.conninfo)
            try conn.execute("SELECT 1")
        } catch {
            throw wrap(error)
        }
    }

    /// Runs finished per minute over the `minutes` minutes ending at `now` (oldest first,
    /// always `minutes` entries; the last one is the minute in progress), from `run_seconds`
    /// summed over the processes that wrote it, a row per minute and outcome.
    public func runsPerMinute(minutes: Int, now: Date) throws -> [RunMinute] {
        let count = max(1, minutes)
        let end = (now.epoch / 60).rounded(.down) * 60 + 60
        let start = end - Double(count) * 60
        let first = Self.second(start)
        let r = try read { conn in
            try conn.query("""
                SELECT (second - $1) / 60, outcome, SUM(n) FROM \(s)run_seconds
                WHERE second >= $1 AND second < $2 GROUP BY 1, 2
                """, [first, Self.second(end.rounded(.up))])
        }
        var buckets = (0..<count).map { RunMinute(start: dateFrom(start + Double($0) * 60), succeeded: 0, failed: 0) }
        for i in 0..<r.count {
            let minute = r.int64(i, 0)
            guard minute >= 0, minute < Int64(count), let outcome = RunOutcome(rawValue: r.string(i, 1)) else { continue }
            let n = r.int(i, 2)
            switch outcome {
            case .succeeded: buckets[Int(minute)].succeeded += n
            case .failed, .discarded, .aborted: buckets[Int(minute)].failed += n
            case .snoozed, .released, .conflict: break
            }
        }
        return buckets
    }

    /// From `run_seconds`: whole seconds, from the one `since` falls in.
    public func runCounts(since: Date) throws -> [RunOutcome: Int] {
        try read { conn in
            let r = try conn.query("SELECT outcome, SUM(n) FROM \(s)run_seconds WHERE second >= $1 GROUP BY outcome",
                                   [Self.second(since.epoch)])
            var counts: [RunOutcome: Int] = [:]
            for i in 0..<r.count {
                if let o = RunOutcome(rawValue: r.string(i, 0)) { counts[o] = r.int(i, 1) }
            }
            return counts
        }
    }

    // MARK: due times

    public func oldestDue(now: Date) throws -> Date? {
        try oldestDuePerQueue(now: now).values.min()
    }

    /// The earliest `run_at` of one queue's waiting jobs: one seek on `jobs_waiting`.
    func firstWaitingSQL(queue: String) -> String {
        "SELECT MIN(run_at) AS at FROM \(s)jobs WHERE queue = \(queue) AND \(Self.waitingStates)"
    }

    /// The earliest `run_at` among `scheduled`/`retrying` jobs of these queues (it may
    /// already be past: such a job is due now). Nil when there is none. A seek per queue.
    public func nextDue(queues: [String]) throws -> Date? {
        if queues.isEmpty { return nil }
        return try read { conn in
            let r = try conn.query("""
                SELECT MIN(f.at) FROM unnest($1::text[]) AS q(name)
                CROSS JOIN LATERAL (\(firstWaitingSQL(queue: "q.name"))) AS f
                """, [PGArray(queues.map(Optional.some))])
            return dateFrom(r.doubleOrNil(0, 0))
        }
    }

    /// The earliest `run_at` of a due job (`queued`, or `scheduled`/`retrying` now due but
    /// not yet staged), per queue: queued jobs from `jobs_claim`'s entries, waiting ones by
    /// one seek per queue (never the jobs due later).
    public func oldestDuePerQueue(now: Date) throws -> [String: Date] {
        try read { conn in
            let r = try conn.query("""
                WITH RECURSIVE \(queueNamesCTE("waiting", where: Self.waitingStates))
                SELECT queue, MIN(run_at) FROM \(s)jobs WHERE state = 'queued' AND run_at <= $1 GROUP BY queue
                UNION ALL
                SELECT w.name, f.at FROM waiting AS w CROSS JOIN LATERAL (\(firstWaitingSQL(queue: "w.name"))) AS f
                WHERE w.name IS NOT NULL AND f.at <= $1
                """, [now.epoch])
            var out: [String: Double] = [:]
            for i in 0..<r.count {
                let queue = r.string(i, 0), at = r.double(i, 1)
                out[queue] = min(out[queue] ?? at, at)
            }
            return out.mapValues { Date(timeIntervalSince1970: $0) }
        }
    }

    /// Queues with a queued job, or a waiting one now due: index seeks only.
    public func dueQueues(now: Date) throws -> [String] {
        try read { conn in
            let r = try conn.query("""
                WITH RECURSIVE \(queueNamesCTE("claim", where: "state = 'queued'")),
                \(queueNamesCTE("waiting", where: Self.waitingStates))
                SELECT name FROM claim WHERE name IS NOT NULL
                UNION
                SELECT w.name FROM waiting AS w CROSS JOIN LATERAL (\(firstWaitingSQL(queue: "w.name"))) AS f
                WHERE w.name IS NOT NULL AND f.at <= $1
                """, [now.epoch])
            return (0..<r.count).map { r.string($0, 0) }.sorted()
        }
    }
}
