import CrescentCore
import CrescentStore
import Foundation
import Testing

/// Operator actions, leases and reads in the corners the main operations suite leaves: both
/// stores must answer them alike.
@Suite("Store: operations in detail")
struct OperationsDetailTests {
    /// Two dead jobs with one unique key: a retry by hand moves the first given, the second
    /// stays dead; retrying all dead moves one of them.
    @Test func retriesOfTwoDeadJobsWithOneKeyMoveOne() throws {
        try withStore { store in
            var ids: [Int64] = []
            for _ in 0..<2 {
                ids.append(try store.jobInsert(job(uniqueKey: "k")).id)
                try store.complete(try store.claimAll()[0], .discarded(reason: "x"))
            }
            #expect(try store.jobRetry(ids: [ids[1], ids[0]]) == [ids[1]])
            #expect(try store.state(ids[0]) == .dead)
            try store.complete(try store.claimAll()[0], .discarded(reason: "x"))
            #expect(try store.jobRetryAllDead() == 1)
            #expect(try store.jobCount(JobListParams(state: .queued)) == 1)
            #expect(try store.jobCount(JobListParams(state: .dead)) == 1)
        }
    }

    /// Another store object on the same database sees a retry as a change of its wake token
    /// (not behind PgBouncer's transaction mode, where PostgreSQL stores only poll).
    @Test(.enabled(if: !TestStore.postgresURL.contains("pgbouncer=transaction")))
    func retryChangesOtherStoresWakeToken() throws {
        let db = try TempDatabase()
        let a = try db.open(), b = try db.open()
        let id = try a.jobInsert(job()).id
        try a.complete(try a.claimAll()[0], .discarded(reason: "x"))
        let deadline = Date().addingTimeInterval(10)
        // First until b hears a at all (a PostgreSQL store starts listening in the background).
        let first = try b.wakeToken()
        while try b.wakeToken() == first, Date() < deadline {
            _ = try a.jobInsert(job(queue: "other"))
            Thread.sleep(forTimeInterval: 0.02)
        }
        Thread.sleep(forTimeInterval: 0.1)
        let before = try b.wakeToken()
        #expect(try a.jobRetry(ids: [id]) == [id])
        while try b.wakeToken() == before, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        #expect(try b.wakeToken() != before)
    }

    @Test func countsAndQueueNamesCoverEveryState() throws {
        try withStore { store in
            let now = Date()
            _ = try store.jobInsertMany([
                job("a", queue: "q1"), job("b", queue: "q1"), job("a", queue: "q2"), job("a", queue: "q3"),
                job("a", queue: "later", runAt: now.addingTimeInterval(600)), job("c", queue: "q4"),
            ])
            let running = try store.claimAll("q2")
            let finished = try store.claimAll("q3")
            try store.complete(finished[0], .failed(error: "e", traceback: nil, retryAt: nil))
            _ = try store.jobCancel(ids: [try store.claimAll("q4")[0].id])
            #expect(try store.jobQueueNames() == ["later", "q1", "q2", "q3", "q4"])
            #expect(try store.jobCount(JobListParams(state: .queued)) == 2)
            #expect(try store.jobCount(JobListParams(state: .queued, task: "a")) == 1)
            #expect(try store.jobCount(JobListParams(state: .scheduled, queue: "later")) == 1)
            #expect(try store.jobCount(JobListParams(state: .running)) == 2)
            #expect(try store.jobCount(JobListParams(state: .running, queue: running[0].queue)) == 1)
            #expect(try store.jobCount(JobListParams(state: .dead, queue: "q3")) == 1)
            #expect(try store.jobCount(JobListParams(queue: "q1")) == 2)
            #expect(try store.jobCount(JobListParams()) == 6)
            #expect(try store.jobCount(JobListParams(task: "a")) == 4)
            #expect(try store.queuedTaskCounts() == ["a": 1, "b": 1])
            #expect(try store.jobCancelRequested(worker: "w1").count == 1)
            #expect(try store.jobsOwned(worker: "w1") == [running[0].id: 1, try store.jobCancelRequested(worker: "w1")[0]: 1])
        }
    }

    /// The rescue is fenced on the heartbeat value seen; a cancel requested ends the job
    /// `cancelled`; its run counts as aborted.
    @Test func rescueIsFencedOnTheHeartbeatAndHonoursCancel() throws {
        try withStore { store in
            let start = Date().addingTimeInterval(-100)
            for id in ["p1", "p2"] {
                try store.processRegister(WorkerProcess(id: id, host: "h", pid: 1, queues: ["default"], startedAt: start, heartbeatAt: start))
            }
            _ = try store.jobInsertMany((0..<3).map { _ in job() })
            let byP1 = try store.claimAll(worker: "p1", limit: 2)
            let byP2 = try store.claimAll(worker: "p2", limit: 1)
            _ = try store.jobCancel(ids: [byP1[1].id])
            let view = try store.leaseView()
            #expect(view.runningOwners == ["p1", "p2"])
            #expect(view.heartbeats.keys.sorted() == ["p1", "p2"])
            // p2 beats after the view: left alone.
            #expect(try store.leaseRenew(processID: "p2", busy: 1, now: start))
            let rescued = try store.jobRescue(stale: ["p1": view.heartbeats["p1"], "p2": view.heartbeats["p2"]]) { _ in Date() }
            #expect(rescued == byP1.map(\.id))
            #expect(try store.state(byP1[0].id) == .retrying)
            #expect(try store.state(byP1[1].id) == .cancelled)
            #expect(try store.state(byP2[0].id) == .running)
            #expect(try store.processList().map(\.id) == ["p2"])
            #expect(try store.runCounts(since: Date().addingTimeInterval(-60))[.aborted] == 2)
            // A second rescue of the same view finds p1 gone: nothing more.
            #expect(try store.jobRescue(stale: ["p1": view.heartbeats["p1"]]) { _ in nil }.isEmpty)
        }
    }

    /// Two stores rescue the same lost process at once: each job is rescued once.
    @Test func twoRescuersTakeEachJobOnce() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        let start = Date().addingTimeInterval(-100)
        try stores[0].processRegister(WorkerProcess(id: "lost", host: "h", pid: 1, queues: ["default"], startedAt: start, heartbeatAt: start))
        _ = try stores[0].jobInsertMany((0..<50).map { _ in job() })
        let claimed = try stores[0].claimAll(worker: "lost", limit: 50)
        let seen = try stores[0].leaseView().heartbeats["lost"]
        let collector = Collector()
        onThreads(2) { i in
            do {
                collector.add(claimed: try stores[i].jobRescue(stale: ["lost": seen]) { _ in nil })
            } catch {
                collector.add(error: error)
            }
        }
        let result = collector.snapshot
        #expect(result.errors.isEmpty)
        #expect(result.claimed.sorted() == claimed.map(\.id))
        #expect(try stores[0].jobRuns(id: claimed[0].id).count == 1)
        #expect(try stores[0].jobCount(JobListParams(state: .dead)) == 50)
    }

    /// Two stores prune at once: every old job goes once, none twice, no error.
    @Test func twoPrunersDeleteEachJobOnce() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        _ = try stores[0].jobInsertMany((0..<200).map { i in job(queue: "q\(i % 3)") })
        let old = Date().addingTimeInterval(-7200)
        for q in ["q0", "q1", "q2"] {
            for j in try stores[0].claimAll(q, limit: 100) { try stores[0].complete(j, .succeeded(result: "1"), at: old) }
        }
        let counts = Collector()
        onThreads(2) { i in
            do {
                var total = 0
                while true {
                    let n = try stores[i].jobPrune(state: .succeeded, before: Date().addingTimeInterval(-3600), limit: 30)
                    if n == 0 { break }
                    total += n
                }
                counts.add(claimed: [Int64(total)])
            } catch {
                counts.add(error: error)
            }
        }
        let result = counts.snapshot
        #expect(result.errors.isEmpty)
        #expect(result.claimed.reduce(0, +) == 200)
        #expect(try stores[0].jobCount(JobListParams()) == 0)
    }

    /// Pruning succeeded jobs also drops per-second run counts older than two hours.
    @Test func pruneDropsOldRunCounts() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<2).map { _ in job() })
            let js = try store.claimAll()
            try store.complete(js[0], .succeeded(result: "1"), at: Date().addingTimeInterval(-3 * 3600))
            try store.complete(js[1], .succeeded(result: "1"))
            let since = Date().addingTimeInterval(-4 * 3600)
            #expect(try store.runCounts(since: since)[.succeeded] == 2)
            _ = try store.jobPrune(state: .succeeded, before: Date().addingTimeInterval(-86400), limit: 10)
            #expect(try store.runCounts(since: since)[.succeeded] == 1)
        }
    }
}
