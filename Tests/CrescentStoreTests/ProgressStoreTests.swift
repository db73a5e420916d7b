import CrescentCore
import CrescentStore
import Foundation
import Testing

/// `job:progress` in the store: written while the job runs (fenced like a completion) and
/// with the outcome; read back by `jobGet` and `jobList` in both stores.
@Suite("Store: job progress")
struct ProgressStoreTests {
    @Test func progressWhileRunningIsFencedAndKeptAfterTheOutcome() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            #expect(try store.jobGet(id: id)?.progress == nil)
            let j = try store.claimAll(worker: "w1")[0]
            let at = Date(timeIntervalSince1970: 1_800_000_000.25)
            let first = JobProgress(done: 40, total: 100, note: "page 4", at: at)
            #expect(try store.jobProgressUpdate([JobProgressUpdate(jobID: id, attempt: 1, worker: "w1", progress: first)]) == 1)
            #expect(try store.jobGet(id: id)?.progress == first)
            #expect(try store.jobList(JobListParams(state: .running)).first?.progress == first)
            // Another process, or another attempt: not applied.
            let other = JobProgress(done: 1, total: nil, note: nil, at: at)
            #expect(try store.jobProgressUpdate([
                JobProgressUpdate(jobID: id, attempt: 1, worker: "w2", progress: other),
                JobProgressUpdate(jobID: id, attempt: 2, worker: "w1", progress: other),
            ]) == 0)
            #expect(try store.jobGet(id: id)?.progress == first)
            // The last value comes with the outcome.
            let last = JobProgress(done: 100, total: 100, note: "done", at: at.addingTimeInterval(5))
            #expect(try store.jobCompleteMany([JobCompletion(jobID: id, attempt: 1, worker: "w1", outcome: .succeeded(result: "1"),
                                                             progress: last)]) == [true])
            let done = try #require(try store.jobGet(id: id))
            #expect(done.state == .succeeded && done.progress == last)
            #expect(done.json()["progress"] == .object(["done": .int(100), "total": .int(100), "note": .string("done"),
                                                         "at": .string("2027-01-15T08:00:05.250Z")]))
            // After it finished, a late write changes nothing.
            #expect(try store.jobProgressUpdate([JobProgressUpdate(jobID: id, attempt: 1, worker: "w1", progress: first)]) == 0)
            #expect(try store.jobGet(id: id)?.progress == last)
        }
    }

    @Test func failedAttemptsKeepTheirProgressAndOthersAreUntouched() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<3).map { _ in job() })
            let js = try store.claimAll()
            let p = JobProgress(done: 2.5, total: nil, note: nil, at: Date(timeIntervalSince1970: 1_800_000_000))
            let applied = try store.jobCompleteMany([
                JobCompletion(jobID: js[0].id, attempt: 1, worker: "w1", outcome: .failed(error: "e", traceback: nil, retryAt: Date()),
                              progress: p),
                JobCompletion(jobID: js[1].id, attempt: 1, worker: "w1", outcome: .succeeded(result: "null")),
                JobCompletion(jobID: js[2].id, attempt: 1, worker: "w2", outcome: .succeeded(result: "null"), progress: p),
            ])
            #expect(applied == [true, true, false])
            #expect(try store.jobGet(id: js[0].id)?.progress == p)
            #expect(try store.jobGet(id: js[0].id)?.json()["progress"]?["done"] == .double(2.5))
            #expect(try store.jobGet(id: js[1].id)?.progress == nil)
            #expect(try store.jobGet(id: js[2].id)?.progress == nil)
        }
    }
}
