import CrescentCore
import Foundation
import Testing
@testable import CrescentStore

/// Several schedules per task, per-task pruning and the expiry of waiting jobs, on the store
/// under test (SQLite, or PostgreSQL with CRESCENT_TEST_STORE=postgres).
@Suite("Store: schedule ids, per-task prune, expiry") struct ScheduleIDsStoreTests {
    /// Two schedules of one task at the same instant are two jobs; each is still fired once,
    /// and each keeps its own last fired time and catch-up record.
    @Test func twoSchedulesOfATaskAtOneInstant() throws {
        try withStore { store in
            let at = Date().addingTimeInterval(3600)  // not yet due: `scheduled`
            func occurrence(_ schedule: String, _ args: String) -> JobInsertParams {
                var p = job("multi", args: args, runAt: at, scheduledFor: at)
                p.schedule = schedule
                return p
            }
            let catchUp = ScheduleCatchUp(missed: 3, run: 1, policy: "once", from: t0.addingTimeInterval(-3600), through: t0)
            let a = try store.scheduleFire(ScheduleFireParams(task: "multi", schedule: "1", jobs: [occurrence("1", #"{"k":1}"#)], lastFired: at, catchUp: catchUp))
            let b = try store.scheduleFire(ScheduleFireParams(task: "multi", schedule: "poll", jobs: [occurrence("poll", #"{"k":2}"#)], lastFired: at.addingTimeInterval(-60)))
            #expect(!a[0].duplicate && !b[0].duplicate && a[0].id != b[0].id)
            let again = try store.scheduleFire(ScheduleFireParams(task: "multi", schedule: "poll", jobs: [occurrence("poll", #"{"k":2}"#)], lastFired: at))
            #expect(again == [JobInsertResult(id: b[0].id, duplicate: true)])
            #expect(try store.jobList(JobListParams(task: "multi")).count == 2)
            #expect(try store.scheduleLastFired(task: "multi") == nil)
            let states = try store.scheduleStates()
            #expect(states.map(\.schedule) == ["1", "poll"])
            #expect(states[0].catchUp == catchUp && states[1].catchUp == nil)
            #expect(abs(states[1].lastFired.timeIntervalSince(at)) < 0.001)
            #expect(try store.scheduleRemovePending(task: "multi", schedule: "1", after: Date()) == 1)
            #expect(try store.jobList(JobListParams(task: "multi")).map(\.id) == [b[0].id])
        }
    }

    /// `jobPrune` with `tasks` removes only those tasks' jobs; with `excluding`, all others.
    @Test func pruneByTask() throws {
        try withStore { store in
            for task in ["a", "a", "b", "c"] { _ = try store.jobInsert(job(task)) }
            for j in try store.claimAll(now: t0.addingTimeInterval(1)) {
                try store.complete(j, .succeeded(result: "1"), at: t0.addingTimeInterval(2))
            }
            let cut = t0.addingTimeInterval(10)
            #expect(try store.jobPrune(state: .succeeded, before: cut, limit: 100, tasks: [], excluding: []) == 0)
            #expect(try store.jobPrune(state: .succeeded, before: cut, limit: 100, tasks: nil, excluding: ["a", "b"]) == 1)
            #expect(try store.jobPrune(state: .succeeded, before: cut, limit: 100, tasks: ["a"], excluding: []) == 2)
            #expect(try store.jobList(JobListParams()).map(\.task) == ["b"])
        }
    }

    /// Waiting jobs past `expires_at` expire without a claim; others and running ones stay.
    @Test func expireWaitingJobs() throws {
        try withStore { store in
            let now = Date()
            let late = try store.jobInsert(job("x", runAt: now.addingTimeInterval(-10), expiresAt: now.addingTimeInterval(-1))).id
            let later = try store.jobInsert(job("x", runAt: now.addingTimeInterval(-10), expiresAt: now.addingTimeInterval(60))).id
            let none = try store.jobInsert(job("x", runAt: now.addingTimeInterval(-10))).id
            #expect(try store.jobExpire(now: now, limit: 100) == 1)
            #expect(try store.state(late) == .expired && store.state(later) == .queued && store.state(none) == .queued)
            #expect(try store.jobGet(id: late)?.error == "expired before it started")
            #expect(try store.jobExpire(now: now, limit: 100) == 0)
        }
    }

    /// A success marked `removeOnSuccess` deletes its job and runs in the completion's
    /// transaction; a failure of the same kind of job stays.
    @Test func removeOnSuccessDeletesTheJobAtCompletion() throws {
        try withStore { store in
            let gone = try store.jobInsert(job("zero")).id
            let failed = try store.jobInsert(job("zero", maxAttempts: 1)).id
            let kept = try store.jobInsert(job("kept")).id
            let jobs = Dictionary(uniqueKeysWithValues: try store.claimAll(now: t0.addingTimeInterval(1)).map { ($0.id, $0) })
            func completion(_ id: Int64, _ outcome: CompletionOutcome, remove: Bool) -> JobCompletion {
                var c = JobCompletion(jobID: id, attempt: jobs[id]!.attempt, worker: "w1", outcome: outcome)
                c.removeOnSuccess = remove
                return c
            }
            let applied = try store.jobCompleteMany([
                completion(gone, .succeeded(result: "1"), remove: true),
                completion(failed, .failed(error: "no", traceback: nil, retryAt: nil), remove: true),
                completion(kept, .succeeded(result: "2"), remove: false),
            ])
            #expect(applied == [true, true, true])
            #expect(try store.jobGet(id: gone) == nil && store.jobRuns(id: gone).isEmpty)
            #expect(try store.state(failed) == .dead && store.state(kept) == .succeeded)
            #expect(try store.jobRuns(id: kept).count == 1)
        }
    }
}
