import Foundation
import GRDB
import GRDBSQLite

extension SQLiteJobStore {
    /// Copies the WAL back and truncates it to nothing, at a clean `run` shutdown (never when a
    /// store merely closes: every CLI command would wait behind a busy runner). Best effort.
    public func truncateWAL() {
        // The background checkpoint may hold the checkpoint lock a moment (answered as busy).
        for _ in 0..<20 {
            let busy = try? pool.writeWithoutTransaction { db in
                try Int.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") ?? 0
            }
            if busy == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

/// WAL checkpoints off the commit path.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages:
/// copying the pages back and syncing the database file, while the writer lock is held.
/// On an idle runner that commit is as often an enqueue as a claim, and the enqueue then
/// waits several milliseconds (`crescent bench`: in-process enqueue → start p99 2–6 ms with
/// it, 0.5 ms without). Instead the writer connection's WAL hook asks this thread, which
/// checkpoints (PASSIVE: it waits for no reader or writer) on a connection of its own.
/// Should the WAL still reach twice the mark (a writer that never pauses: the WAL restarts
/// only once fully copied back between two commits), the commit checkpoints itself, as SQLite
/// would, after waiting for a background checkpoint under way; so the WAL stays within about
/// 2,000 pages plus one transaction.
final class Checkpointer: @unchecked Sendable {
    /// Pages in the WAL after a commit that ask for a checkpoint (SQLite's own default).
    static let pages: Int32 = 1000
    /// Pages past which the committing connection checkpoints itself.
    static let backlog: Int32 = 2 * pages

    private let path: String
    private let synchronous: String
    private let cond = NSCondition()
    private var requested = false  // guarded by cond
    private var stopping = false   // guarded by cond
    private var started = false    // guarded by cond
    /// Held while a checkpoint of this store runs (the thread's or a commit's).
    private let checkpointing = NSLock()

    init(path: String, synchronous: String) {
        self.path = path
        self.synchronous = synchronous
    }

    /// Installs the hook on the writer connection; `uninstall(from:)` must run before this
    /// object goes (the hook holds it unretained).
    func install(on db: Database) throws {
        try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, _, pages in
            guard let context else { return SQLITE_OK }
            let checkpointer = Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue()
            if pages >= Checkpointer.backlog {
                checkpointer.checkpointing.lock()
                sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                checkpointer.checkpointing.unlock()
            } else if pages >= Checkpointer.pages {
                checkpointer.request()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    func uninstall(from db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, nil, nil)
    }

    /// From the hook: wakes the thread (started at the first request).
    private func request() {
        cond.lock()
        defer { cond.unlock() }
        requested = true
        if !started {
            started = true
            let thread = Thread { [self] in loop() }
            thread.name = "crescent-checkpoint"
            thread.start()
        }
        cond.signal()
    }

    func stop() {
        cond.lock()
        stopping = true
        cond.signal()
        cond.unlock()
    }

    private func loop() {
        var connection: OpaquePointer?
        defer { sqlite3_close_v2(connection) }
        guard sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else { return }
        sqlite3_exec(connection, "PRAGMA synchronous = \(synchronous)", nil, nil, nil)
        while true {
            cond.lock()
            while !requested && !stopping { cond.wait() }
            let stop = stopping
            requested = false
            cond.unlock()
            if stop { return }
            // SQLITE_BUSY (another process's checkpoint under way) is fine: the next commit asks again.
            checkpointing.lock()
            sqlite3_wal_checkpoint_v2(connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            checkpointing.unlock()
        }
    }
}
