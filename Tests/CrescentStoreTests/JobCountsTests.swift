import CrescentCore
@testable import CrescentStore
import Foundation
import GRDB
import Testing

/// The per-queue, per-state counts (`jobCounts`, `jobCount`) stay exact through every write
/// that moves jobs into or out of a final state. On SQLite finished jobs are counted in a
/// table kept with those writes; `withStore` also compares it with a recount at the end.
@Suite struct JobCountsTests {
    /// What the counts should be, from the jobs themselves.
    func reference(_ store: any JobStore) throws -> [QueueStateCount] {
        var tally: [String: Int] = [:]
        for j in try store.jobList(JobListParams(limit: 10_000)) { tally["\(j.queue)\u{0}\(j.state.rawValue)", default: 0] += 1 }
        return tally.map { key, n in
            let parts = key.split(separator: "\u{0}").map(String.init)
            return QueueStateCount(queue: parts[0], state: JobState(rawValue: parts[1])!, count: n)
        }.sorted { ($0.queue, $0.state.rawValue) < ($1.queue, $1.state.rawValue) }
    }

    func expectExact(_ store: any JobStore, _ note: Comment) throws {
        let counts = try store.jobCounts()
        #expect(counts == (try reference(store)), note)
        for state in JobState.allCases {
            for queue in ["a", "b"] {
                let want = counts.first { $0.queue == queue && $0.state == state }?.count ?? 0
                #expect(try store.jobCount(JobListParams(state: state, queue: queue)) == want, "\(note) \(queue) \(state)")
            }
            #expect(try store.jobCount(JobListParams(state: state)) == counts.filter { $0.state == state }.reduce(0) { $0 + $1.count })
        }
    }

    @Test func everyWritePathKeepsTheCounts() throws {
        try withStore { store in
            let now = Date()
            // 40 jobs in each of two queues: completed in chunks (the pipeline's path, with
            // the queue known) and one by one (queue read from the row).
            _ = try store.jobInsertMany((0..<40).map { _ in job(queue: "a", maxAttempts: 1) })
            _ = try store.jobInsertMany((0..<40).map { _ in job(queue: "b", maxAttempts: 1) })
            let a = try store.claimAll("a", limit: 40)
            var chunk = a.prefix(30).map { JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: "w1", startedAt: now,
                                                         outcome: .succeeded(result: "null")) }
            for i in chunk.indices where i % 2 == 0 { chunk[i].queue = "a" }
            #expect(try store.jobCompleteMany(chunk).allSatisfy { $0 })
            try expectExact(store, "after a chunk of successes")
            try store.complete(a[30], .failed(error: "boom", traceback: nil, retryAt: nil))
            try store.complete(a[31], .failed(error: "again", traceback: nil, retryAt: now.addingTimeInterval(3600)))
            try store.complete(a[32], .discarded(reason: "no"))
            try store.complete(a[33], .snoozed(until: now.addingTimeInterval(3600)))
            var removed = JobCompletion(jobID: a[34].id, attempt: a[34].attempt, worker: "w1", outcome: .succeeded(result: "1"))
            removed.removeOnSuccess = true
            _ = try store.jobCompleteMany([removed])
            try expectExact(store, "after single completions")

            // Cancel (pending and running), delete, retry by id and all dead.
            let b = try store.claimAll("b", limit: 5)
            let pendingB = try store.jobList(JobListParams(state: .queued, queue: "b", limit: 100)).map(\.id)
            _ = try store.jobCancel(ids: Array(pendingB.prefix(5)) + [b[0].id])
            try store.complete(b[0], .aborted(error: "cancelled", retryAt: nil))
            try expectExact(store, "after cancels")
            let dead = try store.jobList(JobListParams(state: .dead, queue: "a", limit: 100)).map(\.id)
            #expect(try store.jobDelete(ids: [dead[0], b[1].id]) == [dead[0]])
            _ = try store.jobRetry(ids: [pendingB[0], a[0].id])
            #expect(try store.jobRetryAllDead() >= 1)
            try expectExact(store, "after deletes and retries")

            // Expiry: by the claim of the queue, by the expirer, and of waiting jobs.
            _ = try store.jobInsertMany([job(queue: "a", expiresAt: now.addingTimeInterval(-1)),
                                         job(queue: "b", expiresAt: now.addingTimeInterval(-1)),
                                         job(queue: "b", runAt: now.addingTimeInterval(600), expiresAt: now.addingTimeInterval(-1))])
            _ = try store.claimAll("a", limit: 1)
            _ = try store.jobExpire(now: now, limit: 1)
            _ = try store.jobExpire(now: now, limit: 1000)
            try expectExact(store, "after expiry")

            // Rescue of a lost owner's jobs, then pruning of everything finished.
            let lost = try store.claimAll("b", worker: "gone", limit: 3)
            #expect(lost.count == 3)
            _ = try store.jobRescue(stale: ["gone": nil]) { _ in nil }
            try expectExact(store, "after a rescue")
            for state in JobState.allCases where state.isFinal {
                _ = try store.jobPrune(state: state, before: Date().addingTimeInterval(60), limit: 7)
            }
            try expectExact(store, "after a partial prune")
            for state in JobState.allCases where state.isFinal {
                _ = try store.jobPrune(state: state, before: Date().addingTimeInterval(60), limit: 1000)
            }
            try expectExact(store, "after the whole prune")
            #expect(try store.jobCounts().allSatisfy { !$0.state.isFinal })
        }
    }

    /// A database written before the counts were kept gets them from its jobs.
    @Test(.enabled(if: TestStore.isSQLite)) func theMigrationCountsExistingJobs() throws {
        let db = try TempDatabase()
        let store = try db.openSQLite()
        _ = try store.jobInsertMany((0..<5).map { _ in job(queue: "a") })
        for j in try store.claimAll("a", limit: 5) { try store.complete(j, .succeeded(result: "null")) }
        // As an older Crescent left it: no counts table, no migration recorded.
        try store.pool.writeWithoutTransaction { db in
            try db.execute(sql: "DROP TABLE job_counts; DELETE FROM grdb_migrations WHERE identifier = 'job-counts'")
        }
        let reopened = try db.openSQLite()
        #expect(try reopened.jobCount(JobListParams(state: .succeeded, queue: "a")) == 5)
        #expect(try reopened.recountFinalJobs() == false)
    }
}
