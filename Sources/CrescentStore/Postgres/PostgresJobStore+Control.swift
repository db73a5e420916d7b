import CrescentCore
import Foundation

// Operator control: paused queues and requests to one process, as rows of `control`
// (SQLite's in SQLiteJobStore+Control.swift).
extension PostgresJobStore {
    public func queueSetPaused(_ queue: String, paused: Bool, now: Date) throws -> Bool {
        try write { conn in
            let changed: Int
            if paused {
                changed = try conn.query("INSERT INTO \(s)control (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                                         [ControlName.pause(queue), now.epoch]).affected
            } else {
                changed = try conn.query("DELETE FROM \(s)control WHERE name = $1", [ControlName.pause(queue)]).affected
            }
            // A resume wakes idle runners at once (they poll as well).
            if changed > 0 && !paused { try notify(queue, conn: conn) }
            return changed > 0
        }
    }

    public func queuesPaused() throws -> [String: Date] {
        try read { conn in
            let r = try conn.query("SELECT name, value FROM \(s)control WHERE starts_with(name, $1)", [ControlName.pausePrefix])
            var paused: [String: Date] = [:]
            for i in 0..<r.count {
                paused[ControlName.queue(ofPause: r.string(i, 0))] = Date(timeIntervalSince1970: r.double(i, 1))
            }
            return paused
        }
    }

    public func processRequest(id: String, _ request: ProcessRequest, now: Date) throws -> Bool {
        try write { conn in
            guard try conn.query("SELECT 1 FROM \(s)processes WHERE id = $1 AND lost_at IS NULL", [id]).count > 0 else { return false }
            try conn.query("INSERT INTO \(s)control (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                           [ControlName.process(id, request), now.epoch])
            return true
        }
    }

    public func processRequests() throws -> [String: Set<ProcessRequest>] {
        try read { conn in
            let live = try conn.query("SELECT id FROM \(s)processes WHERE lost_at IS NULL")
            let ids = Set((0..<live.count).map { live.string($0, 0) })
            let r = try conn.query("SELECT name FROM \(s)control")
            var requests: [String: Set<ProcessRequest>] = [:]
            for i in 0..<r.count {
                guard let (id, request) = ControlName.parseProcess(r.string(i, 0)), ids.contains(id) else { continue }
                requests[id, default: []].insert(request)
            }
            return requests
        }
    }

    public func processRequests(id: String) throws -> Set<ProcessRequest> {
        try read { conn in
            let names = ControlName.processNames(id)
            let r = try conn.query("SELECT name FROM \(s)control WHERE name = $1 OR name = $2", [names[0], names[1]])
            return Set((0..<r.count).compactMap { ControlName.parseProcess(r.string($0, 0))?.1 })
        }
    }

    // MARK: bulk actions

    /// `JobListParams.search` as parameter `$n` (lower() as SQLite's: a text search, not a pattern).
    static func searchClause(_ n: Int) -> String {
        "(strpos(lower(args), lower($\(n))) > 0 OR strpos(lower(COALESCE(error, '')), lower($\(n))) > 0)"
    }

    public func jobDelete(ids: [Int64]) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { conn in
            // Runs go with their job (the `jobs_delete_runs` trigger).
            let r = try conn.query("""
                WITH gone AS (
                    DELETE FROM \(s)jobs WHERE id = ANY($1::bigint[]) AND state <> 'running' RETURNING id, queue AS cq, state AS cs),
                \(countedCTE("gone", sign: -1))
                SELECT id FROM gone
                """, [PGArray(ids)])
            let deleted = Set((0..<r.count).map { r.int64($0, 0) })
            return ids.filter { deleted.contains($0) }
        }
    }

    public func jobRunNow(ids: [Int64], now: Date) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { conn in
            let r = try conn.query("""
                UPDATE \(s)jobs SET run_at = $2 WHERE id = ANY($1::bigint[]) AND state IN ('scheduled', 'retrying')
                RETURNING id, queue
                """, [PGArray(ids), now.epoch])
            if r.count > 0 { try notify(r.string(0, 1), conn: conn) }
            let moved = Set((0..<r.count).map { r.int64($0, 0) })
            return ids.filter { moved.contains($0) }
        }
    }
}
