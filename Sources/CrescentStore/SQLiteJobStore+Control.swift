import CrescentCore
import Foundation
import GRDB

// Operator control: paused queues and requests to one process, as rows of `control`.
extension SQLiteJobStore {
    public func queueSetPaused(_ queue: String, paused: Bool, now: Date) throws -> Bool {
        try write { db in
            if paused {
                try db.execute(sql: "INSERT INTO control (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                               arguments: [ControlName.pause(queue), now.epoch])
            } else {
                try db.execute(sql: "DELETE FROM control WHERE name = ?", arguments: [ControlName.pause(queue)])
            }
            return db.changesCount > 0
        }
    }

    public func queuesPaused() throws -> [String: Date] {
        try read { db in
            var paused: [String: Date] = [:]
            let prefix = ControlName.pausePrefix
            for row in try Row.fetchAll(db, sql: "SELECT name, value FROM control WHERE substr(name, 1, ?) = ?",
                                        arguments: [prefix.count, prefix]) {
                paused[ControlName.queue(ofPause: row[0])] = Date(timeIntervalSince1970: row[1] as Double)
            }
            return paused
        }
    }

    /// Inside a claim's transaction: whether `queue` is paused (a seek on the primary key).
    static func isPaused(_ queue: String, db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM control WHERE name = ?"),
                          arguments: [ControlName.pause(queue)]) ?? false
    }

    public func processRequest(id: String, _ request: ProcessRequest, now: Date) throws -> Bool {
        try write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM processes WHERE id = ? AND lost_at IS NULL", arguments: [id]) ?? false else { return false }
            try db.execute(sql: "INSERT INTO control (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                           arguments: [ControlName.process(id, request), now.epoch])
            return true
        }
    }

    public func processRequests() throws -> [String: Set<ProcessRequest>] {
        try read { db in
            let live = Set(try String.fetchAll(db, sql: "SELECT id FROM processes WHERE lost_at IS NULL"))
            var requests: [String: Set<ProcessRequest>] = [:]
            for name in try String.fetchAll(db, sql: "SELECT name FROM control") {
                guard let (id, request) = ControlName.parseProcess(name), live.contains(id) else { continue }
                requests[id, default: []].insert(request)
            }
            return requests
        }
    }

    public func processRequests(id: String) throws -> Set<ProcessRequest> {
        try read { db in
            let names = ControlName.processNames(id)
            let found = try String.fetchAll(db.cachedStatement(sql: "SELECT name FROM control WHERE name IN (?, ?)"),
                                            arguments: StatementArguments(names))
            return Set(found.compactMap { ControlName.parseProcess($0)?.1 })
        }
    }

    /// At deregistration: the process's requests go with it.
    static func removeProcessRequests(_ id: String, db: Database) throws {
        try db.execute(sql: "DELETE FROM control WHERE name IN (?, ?)", arguments: StatementArguments(ControlName.processNames(id)))
    }

    // MARK: bulk actions

    /// `JobListParams.search`: two bindings of the text.
    static let searchClause = "(instr(lower(args), lower(?)) > 0 OR instr(lower(COALESCE(error, '')), lower(?)) > 0)"

    public func jobDelete(ids: [Int64]) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { db in
            // Runs go with their job (ON DELETE CASCADE).
            let stmt = try db.cachedStatement(sql: "DELETE FROM jobs WHERE id = ? AND state <> 'running' RETURNING queue, state")
            var deleted: [Int64] = []
            for id in ids where try Self.countFinal(stmt, arguments: [id], sign: -1, db: db) > 0 {
                deleted.append(id)
            }
            return deleted
        }
    }

    public func jobRunNow(ids: [Int64], now: Date) throws -> [Int64] {
        if ids.isEmpty { return [] }
        return try write { db in
            let stmt = try db.cachedStatement(sql: """
                UPDATE jobs SET run_at = ? WHERE id = ? AND (state = 'scheduled' OR state = 'retrying')
                """)
            var moved: [Int64] = []
            for id in ids {
                try stmt.execute(arguments: [now.epoch, id])
                if db.changesCount > 0 { moved.append(id) }
            }
            return moved
        }
    }
}
