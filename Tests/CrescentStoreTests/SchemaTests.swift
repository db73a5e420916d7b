import CrescentCore
@testable import CrescentStore
import Foundation
import GRDB
import Testing

@Suite("SQLiteJobStore: schema and connection settings")
struct SchemaTests {
    func pragma(_ store: SQLiteJobStore, _ name: String) throws -> String? {
        try store.pool.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA \(name)") }
    }

    @Test func durabilitySettingsAndConnectionPragmas() throws {
        let db = try TempDatabase()
        let normal = try db.open(.normal)
        #expect(try pragma(normal, "journal_mode") == "wal")
        #expect(try pragma(normal, "synchronous") == "1")
        #expect(try pragma(normal, "foreign_keys") == "1")
        #expect(try pragma(normal, "busy_timeout") == "5000")
        let full = try db.open(.full)
        #expect(try pragma(full, "synchronous") == "2")
        #expect(SQLiteJobStore.Durability(rawValue: "full") == .full)
    }

    @Test func migrationsAreRecordedAndIdempotent() throws {
        let db = try TempDatabase()
        let store = try db.open()
        let applied = try store.pool.read { db in try SQLiteJobStore.migrator.appliedIdentifiers(db) }
        #expect(applied == ["v1"])
        // Opening again applies nothing and keeps the data.
        let id = try store.jobInsert(job()).id
        #expect(try db.open().jobGet(id: id) != nil)
    }

    @Test func hotQueriesUseTheirIndexes() throws {
        try withStore { store in
            func plan(_ sql: String) throws -> String {
                try store.pool.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ")
                }
            }
            let pending = "(state = 'scheduled' OR state = 'queued' OR state = 'retrying')"
            let active = "(state = 'scheduled' OR state = 'queued' OR state = 'running' OR state = 'retrying')"
            let claim = try plan("SELECT id FROM jobs WHERE queue = 'q' AND \(pending) AND run_at <= 1 ORDER BY priority DESC, run_at, id LIMIT 5")
            #expect(claim.contains("jobs_claim") && !claim.contains("TEMP B-TREE"), "\(claim)")
            let unique = try plan("SELECT id FROM jobs WHERE unique_key = 'k' AND unique_key IS NOT NULL AND \(active)")
            #expect(unique.contains("jobs_unique_active"), "\(unique)")
            let prune = try plan("SELECT id FROM jobs WHERE state = 'succeeded' AND finished_at < 1 AND finished_at IS NOT NULL LIMIT 5")
            #expect(prune.contains("jobs_finished"), "\(prune)")
        }
    }
}
