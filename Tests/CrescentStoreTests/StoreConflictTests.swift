import CrescentCore
import CrescentStore
import Foundation
import Testing

/// Store reads checked at commit (`JobCompletion.storeReads`) and increments.
@Suite struct StoreConflictTests {
    func success(_ j: Job, reads: [StoreRead] = [], writes: [StoreWrite] = [], started: Date? = Date()) -> JobCompletion {
        JobCompletion(jobID: j.id, attempt: j.attempt, worker: "w1", startedAt: started, outcome: .succeeded(result: "null"),
                      storeWrites: writes, storeReads: reads)
    }

    /// Two attempts read n = absent and both write 1: in one batch the second is a conflict,
    /// applies nothing, and its job is queued again with its attempt given back.
    @Test func aStaleReadInTheSameBatchIsAConflict() throws {
        try withStore { store in
            _ = try store.jobInsertMany([job(), job()])
            let js = try store.claimAll()
            let read = StoreRead(task: "t", key: "n", value: nil)
            let set1 = StoreWrite(task: "t", key: "n", value: "1")
            let done = try store.jobCompleteAndClaim([success(js[0], reads: [read], writes: [set1]),
                                                      success(js[1], reads: [read], writes: [set1])], claims: [], claimBudget: 0)
            #expect(done.applied == [true, true])
            #expect(done.conflicts == [1])
            #expect(try store.storeGet(task: "t", key: "n") == "1")
            let loser = try #require(try store.jobGet(id: js[1].id))
            #expect(loser.state == .queued)
            #expect(loser.attempt == 0)
            #expect(try store.jobRuns(id: js[1].id).map(\.outcome) == [.conflict])
            // Run again (same attempt number), reading the committed 1, it applies.
            let again = try store.claimAll()
            #expect(again.map(\.attempt) == [1])
            let next = try store.jobCompleteAndClaim([success(again[0], reads: [StoreRead(task: "t", key: "n", value: "1")],
                                                              writes: [StoreWrite(task: "t", key: "n", value: "2")])],
                                                     claims: [], claimBudget: 0)
            #expect(next.conflicts.isEmpty)
            #expect(try store.storeGet(task: "t", key: "n") == "2")
            #expect(try store.jobRuns(id: js[1].id).map(\.outcome) == [.conflict, .succeeded])
            #expect(try store.runCounts(since: t0)[.conflict] == 1)
        }
    }

    /// A→B→A between the read and the commit is no conflict; a read of another task's key
    /// is not disturbed by this task's writes; failures are never checked.
    @Test func onlyAChangedValueConflicts() throws {
        try withStore { store in
            _ = try store.jobInsertMany([job(), job(), job()])
            let js = try store.claimAll()
            try store.storeApply([StoreWrite(task: "t", key: "c", value: #"{"page":1}"#)])
            try store.storeApply([StoreWrite(task: "t", key: "c", value: #"{"page":2}"#)])
            try store.storeApply([StoreWrite(task: "t", key: "c", value: #"{"page":1}"#)])
            let done = try store.jobCompleteAndClaim([
                success(js[0], reads: [StoreRead(task: "t", key: "c", value: #"{"page":1}"#), StoreRead(task: "u", key: "c", value: nil)],
                        writes: [StoreWrite(task: "t", key: "c", value: #"{"page":3}"#)]),
                success(js[1], reads: [StoreRead(task: "u", key: "c", value: nil)]),
                JobCompletion(jobID: js[2].id, attempt: js[2].attempt, worker: "w1", startedAt: Date(),
                              outcome: .failed(error: "x", traceback: nil, retryAt: Date()),
                              storeReads: [StoreRead(task: "t", key: "c", value: "0")]),
            ], claims: [], claimBudget: 0)
            #expect(done.conflicts.isEmpty)
            #expect(try store.storeGet(task: "t", key: "c") == #"{"page":3}"#)
            #expect(try store.state(js[1].id) == .succeeded)
            #expect(try store.state(js[2].id) == .retrying)
        }
    }

    /// Increments add up whatever the order, count a missing key as 0, keep integers, and
    /// one whose key holds a string at commit is a conflict rather than an error.
    @Test func incrementsAddUpAndNeverConflictWithEachOther() throws {
        try withStore { store in
            let n = 40
            _ = try store.jobInsertMany((0..<n).map { _ in job() })
            let js = try store.claimAll()
            let incr = StoreWrite(task: "t", key: "hits", value: "1", increment: true)
            let done = try store.jobCompleteAndClaim(js.map { success($0, writes: [incr]) }, claims: [], claimBudget: 0)
            #expect(done.conflicts.isEmpty)
            #expect(try store.storeGet(task: "t", key: "hits") == "\(n)")
            // After its own set, an increment's base is that value.
            _ = try store.jobInsertMany([job(), job()])
            let more = try store.claimAll()
            try store.storeApply([StoreWrite(task: "t", key: "s", value: "\"text\"")])
            let mixed = try store.jobCompleteAndClaim([
                success(more[0], writes: [StoreWrite(task: "t", key: "hits", value: "2.5", increment: true),
                                          StoreWrite(task: "t", key: "own", value: "10"),
                                          StoreWrite(task: "t", key: "own", value: "5", increment: true)]),
                success(more[1], writes: [StoreWrite(task: "t", key: "s", value: "1", increment: true)]),
            ], claims: [], claimBudget: 0)
            #expect(mixed.conflicts == [1])
            #expect(try store.storeGet(task: "t", key: "hits") == "42.5")
            #expect(try store.storeGet(task: "t", key: "own") == "15")
            #expect(try store.storeGet(task: "t", key: "s") == "\"text\"")
        }
    }

    /// Completions without reads keep the chunked path; those with reads, between them, are
    /// checked in batch order against the writes of the chunk before them.
    @Test func checkedCompletionsSeeTheChunksBeforeThem() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<40).map { _ in job() })
            let js = try store.claimAll()
            var batch = js[0..<20].map { success($0) }
            batch[19].storeWrites = [StoreWrite(task: "t", key: "k", value: "\"chunk\"")]
            batch.append(success(js[20], reads: [StoreRead(task: "t", key: "k", value: nil)]))      // stale: conflict
            batch.append(success(js[21], reads: [StoreRead(task: "t", key: "k", value: "\"chunk\"")]))  // fresh
            batch += js[22..<40].map { success($0) }
            let done = try store.jobCompleteAndClaim(batch, claims: [], claimBudget: 0)
            #expect(done.applied == Array(repeating: true, count: 40))
            #expect(done.conflicts == [20])
            #expect(try store.state(js[20].id) == .queued)
            #expect(try js.indices.filter { $0 != 20 }.allSatisfy { try store.state(js[$0].id) == .succeeded })
        }
    }

    /// A conflict on a job whose cancel was requested ends it `cancelled`.
    @Test func aConflictOfACancelledJobCancelsIt() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            let j = try store.claimAll()[0]
            _ = try store.jobCancel(ids: [id])
            try store.storeApply([StoreWrite(task: "t", key: "n", value: "7")])
            let done = try store.jobCompleteAndClaim([success(j, reads: [StoreRead(task: "t", key: "n", value: nil)])],
                                                     claims: [], claimBudget: 0)
            #expect(done.conflicts == [0])
            #expect(try store.state(id) == .cancelled)
        }
    }
}
