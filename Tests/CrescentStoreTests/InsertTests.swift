import CrescentCore
import CrescentStore
import Foundation
import Testing

@Suite("Store: inserting")
struct InsertTests {
    @Test func insertDueNowIsQueuedWithAllFields() throws {
        try withStore { store in
            let exp = Date().addingTimeInterval(3600)
            let r = try store.jobInsert(job("mail/send", queue: "mail", priority: 3, args: #"{"a":1}"#, maxAttempts: 7,
                                            uniqueKey: "k", expiresAt: exp))
            #expect(r.duplicate == false)
            let j = try #require(try store.jobGet(id: r.id))
            #expect(j.task == "mail/send")
            #expect(j.queue == "mail")
            #expect(j.priority == 3)
            #expect(j.state == .queued)
            #expect(j.args == #"{"a":1}"#)
            #expect(j.attempt == 0)
            #expect(j.maxAttempts == 7)
            #expect(j.result == nil && j.error == nil && j.finishedAt == nil && j.scheduledFor == nil)
            #expect(j.uniqueKey == "k")
            #expect(abs(j.runAt.timeIntervalSince(t0)) < 0.001)
            #expect(abs(j.createdAt.timeIntervalSinceNow) < 60)
            #expect(try store.jobGet(id: r.id + 1) == nil)
        }
    }

    @Test func insertInTheFutureIsScheduled() throws {
        try withStore { store in
            let later = Date().addingTimeInterval(600)
            let r = try store.jobInsert(job(runAt: later))
            #expect(try store.state(r.id) == .scheduled)
            #expect(try store.claimAll().isEmpty)
            // Due once its time comes.
            let claimed = try store.claimAll(now: later.addingTimeInterval(1))
            #expect(claimed.map(\.id) == [r.id])
        }
    }

    @Test func uniqueKeyReturnsTheActiveJob() throws {
        try withStore { store in
            let a = try store.jobInsert(job(uniqueKey: "sync"))
            let b = try store.jobInsert(job(uniqueKey: "sync"))
            #expect(b == JobInsertResult(id: a.id, duplicate: true))
            // Still a duplicate while running.
            let claimed = try store.claimAll()
            #expect(claimed.count == 1)
            #expect(try store.jobInsert(job(uniqueKey: "sync")) == JobInsertResult(id: a.id, duplicate: true))
            // Finishing frees the key.
            try store.complete(claimed[0], .succeeded(result: "null"))
            let c = try store.jobInsert(job(uniqueKey: "sync"))
            #expect(c.duplicate == false)
            #expect(c.id != a.id)
            #expect(try store.jobCounts().reduce(0) { $0 + $1.count } == 2)
        }
    }

    @Test func uniqueByArgsKeysAreDistinct() throws {
        try withStore { store in
            let k1 = "t:" + #"{"id":1}"#, k2 = "t:" + #"{"id":2}"#
            let a = try store.jobInsert(job(args: #"{"id":1}"#, uniqueKey: k1))
            let b = try store.jobInsert(job(args: #"{"id":2}"#, uniqueKey: k2))
            let c = try store.jobInsert(job(args: #"{"id":1}"#, uniqueKey: k1))
            #expect(!a.duplicate && !b.duplicate && a.id != b.id)
            #expect(c == JobInsertResult(id: a.id, duplicate: true))
        }
    }

    @Test func uniquePeriodCountsRecentlyFinishedJobs() throws {
        try withStore { store in
            let a = try store.jobInsert(job(uniqueKey: "p", uniquePeriod: 600))
            let claimed = try store.claimAll()
            // It finished 30 s ago.
            try store.complete(claimed[0], .failed(error: "boom", traceback: nil, retryAt: nil), at: Date().addingTimeInterval(-30))
            #expect(try store.state(a.id) == .dead)
            // Within a 10-minute period: a duplicate of the finished job.
            #expect(try store.jobInsert(job(uniqueKey: "p", uniquePeriod: 600)) == JobInsertResult(id: a.id, duplicate: true))
            #expect(try store.jobFindActiveUnique(key: "p", period: 600, now: Date()) == a.id)
            // Outside a 10-second period, or without a period: a new job.
            #expect(try store.jobFindActiveUnique(key: "p", period: 10, now: Date()) == nil)
            #expect(try store.jobFindActiveUnique(key: "p", period: nil, now: Date()) == nil)
            let b = try store.jobInsert(job(uniqueKey: "p", uniquePeriod: 10))
            #expect(b.duplicate == false)
            // And now the active one wins over the finished one.
            #expect(try store.jobFindActiveUnique(key: "p", period: 600, now: Date()) == b.id)
            #expect(try store.jobInsert(job(uniqueKey: "p", uniquePeriod: 600)) == JobInsertResult(id: b.id, duplicate: true))
        }
    }

    @Test func insertManyIsOneBatchWithDuplicatesInside() throws {
        try withStore { store in
            var batch = (0..<500).map { job(args: #"{"n":\#($0)}"#) }
            batch.append(job(uniqueKey: "u"))
            batch.append(job(uniqueKey: "u"))
            let results = try store.jobInsertMany(batch)
            #expect(results.count == 502)
            #expect(Set(results.map(\.id)).count == 501)
            #expect(results[501] == JobInsertResult(id: results[500].id, duplicate: true))
            #expect(results.prefix(501).allSatisfy { !$0.duplicate })
            #expect(try store.jobInsertMany([]).isEmpty)
            let ids = results.prefix(500).map(\.id)
            #expect(ids == ids.sorted())
        }
    }

    @Test func reservedIDsAreNeverHandedOutAgain() throws {
        try withStore { store in
            // Works on an empty database too.
            let first = try store.jobReserveIDs(count: 3)
            #expect(first.count == 3)
            let a = try store.jobInsert(job())
            #expect(a.id > first.last!)
            let block = try store.jobReserveIDs(count: 100)
            #expect(block.count == 100)
            #expect(block.first! > a.id)
            let b = try store.jobInsert(job())
            #expect(b.id > block.last!)
            // Inserting later with a reserved id keeps that id; other ids are unaffected.
            let pushed = try store.jobInsert(job("later", id: block.first! + 5))
            #expect(pushed == JobInsertResult(id: block.first! + 5, duplicate: false))
            #expect(try store.jobGet(id: pushed.id)?.task == "later")
            let c = try store.jobInsert(job())
            #expect(c.id == b.id + 1)
            let next = try store.jobReserveIDs(count: 1)
            #expect(next.first! > c.id)
            // A reserved id used twice is an error, not a silent loss.
            #expect(throws: (any Error).self) { try store.jobInsert(job("again", id: block.first! + 5)) }
        }
    }

    @Test(.enabled(if: TestStore.isSQLite, "SQLite only: its durability setting"))
    func reopeningKeepsJobsAndFullDurabilityOpens() throws {
        let db = try TempDatabase()
        let id = try db.openSQLite().jobInsert(job("keep")).id
        let again = try db.openSQLite(.full)
        #expect(try again.jobGet(id: id)?.task == "keep")
        #expect(again.durability == .full)
    }
}
