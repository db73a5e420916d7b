import CrescentCore
import CrescentStore
import Foundation
import Testing

@Suite("Store: operators, schedules, leases, maintenance")
struct OperationsTests {
    @Test func retryMovesFinishedFailuresBackToQueued() throws {
        try withStore { store in
            let dead = try store.jobInsert(job(uniqueKey: "r")).id
            let expired = try store.jobInsert(job(expiresAt: Date().addingTimeInterval(-5))).id
            let cancelled = try store.jobInsert(job()).id
            let ok = try store.jobInsert(job()).id
            #expect(try store.jobCancel(ids: [cancelled]) == [cancelled])
            let js = try store.claimAll()
            #expect(js.map(\.id) == [dead, ok])
            try store.complete(js[0], .failed(error: "e", traceback: nil, retryAt: nil))
            try store.complete(js[1], .succeeded(result: "null"))
            #expect(try store.state(expired) == .expired)
            #expect(try store.state(cancelled) == .cancelled)

            let moved = try store.jobRetry(ids: [dead, expired, cancelled, ok, 9999])
            #expect(moved == [dead, expired, cancelled])
            for id in moved {
                let j = try #require(try store.jobGet(id: id))
                #expect(j.state == .queued && j.attempt == 0 && j.finishedAt == nil)
            }
            #expect(try store.jobGet(id: dead)?.error == "e")
            #expect(try store.state(ok) == .succeeded)
            // The retried expired job no longer expires.
            #expect(Set(try store.claimAll().map(\.id)) == Set(moved))
        }
    }

    @Test func retryDoesNotBreakUniqueness() throws {
        try withStore { store in
            let first = try store.jobInsert(job(uniqueKey: "one")).id
            try store.complete(try store.claimAll()[0], .discarded(reason: "x"))
            let second = try store.jobInsert(job(uniqueKey: "one"))
            #expect(second.duplicate == false)
            // The key is held by the new job: the dead one stays dead.
            #expect(try store.jobRetry(ids: [first]).isEmpty)
            #expect(try store.jobRetryAllDead() == 0)
            #expect(try store.state(first) == .dead)
        }
    }

    @Test func retryAllDead() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<4).map { _ in job() })
            let js = try store.claimAll()
            for j in js.prefix(3) { try store.complete(j, .discarded(reason: "x")) }
            try store.complete(js[3], .succeeded(result: "1"))
            #expect(try store.jobRetryAllDead() == 3)
            #expect(try store.jobList(JobListParams(state: .queued)).count == 3)
            #expect(try store.jobRetryAllDead() == 0)
        }
    }

    @Test func cancelPendingAndFlagRunning() throws {
        try withStore { store in
            let queued = try store.jobInsert(job()).id
            let scheduled = try store.jobInsert(job(runAt: Date().addingTimeInterval(600))).id
            let running = try store.jobInsert(job(queue: "q2")).id
            let j = try store.claimAll("q2")[0]
            let done = try store.jobInsert(job(queue: "q3")).id
            try store.complete(try store.claimAll("q3")[0], .succeeded(result: "1"))

            let result = try store.jobCancel(ids: [queued, scheduled, running, done, 12345])
            #expect(result == [queued, scheduled, running])
            #expect(try store.state(queued) == .cancelled)
            #expect(try store.state(scheduled) == .cancelled)
            #expect(try store.jobGet(id: queued)?.finishedAt != nil)
            #expect(try store.state(running) == .running)
            #expect(try store.state(done) == .succeeded)
            #expect(try store.jobCancelRequested(worker: "w1") == [running])
            // Even a successful finish after the request counts as succeeded.
            try store.complete(j, .succeeded(result: "1"))
            #expect(try store.state(running) == .succeeded)
            #expect(try store.claimAll().isEmpty)
        }
    }

    @Test func cancelRequestWinsOverRetrySnoozeAndRelease() throws {
        try withStore { store in
            let ids = try store.jobInsertMany((0..<3).map { _ in job() }).map(\.id)
            let js = try store.claimAll()
            _ = try store.jobCancel(ids: ids)
            try store.complete(js[0], .failed(error: "e", traceback: nil, retryAt: Date()))
            try store.complete(js[1], .snoozed(until: Date()))
            try store.complete(js[2], .released)
            for id in ids { #expect(try store.state(id) == .cancelled) }
        }
    }

    @Test func scheduleOccurrenceBecomesOneJob() throws {
        let db = try TempDatabase()
        let a = try db.open(), b = try db.open()
        let occ = Date(timeIntervalSince1970: 1_800_000_000.0004)
        let p = ScheduleFireParams(task: "tick", jobs: [job("tick", runAt: occ, scheduledFor: occ)], lastFired: occ)
        let first = try a.scheduleFire(p)
        let second = try b.scheduleFire(p)
        #expect(first.count == 1 && first[0].duplicate == false)
        #expect(second == [JobInsertResult(id: first[0].id, duplicate: true)])
        #expect(try a.jobList(JobListParams(task: "tick")).count == 1)
        let j = try #require(try a.jobGet(id: first[0].id))
        #expect(abs(j.scheduledFor!.timeIntervalSince(occ)) < 0.001)
        #expect(j.state == .scheduled)
        #expect(abs(try #require(try b.scheduleLastFired(task: "tick")).timeIntervalSince(occ)) < 0.001)
        #expect(try a.scheduleLastFired(task: "other") == nil)
        // Even after it ran, the occurrence is not fired again.
        let claimed = try a.claimAll(now: occ.addingTimeInterval(1))
        try a.complete(claimed[0], .succeeded(result: "null"))
        #expect(try b.scheduleFire(p)[0] == JobInsertResult(id: first[0].id, duplicate: true))
        // last_fired never moves backwards.
        _ = try a.scheduleFire(ScheduleFireParams(task: "tick", jobs: [], lastFired: occ.addingTimeInterval(-60)))
        #expect(abs(try #require(try a.scheduleLastFired(task: "tick")).timeIntervalSince(occ)) < 0.001)
    }

    @Test func scheduleOccurrenceOfAUniqueTaskIsADuplicateWhileOneRuns() throws {
        try withStore { store in
            let o1 = t0, o2 = t0.addingTimeInterval(60)
            let r1 = try store.scheduleFire(ScheduleFireParams(task: "u", jobs: [job("u", scheduledFor: o1, id: nil).withKey("u")], lastFired: o1))
            let r2 = try store.scheduleFire(ScheduleFireParams(task: "u", jobs: [job("u", scheduledFor: o2).withKey("u")], lastFired: o2))
            #expect(r1[0].duplicate == false)
            #expect(r2 == [JobInsertResult(id: r1[0].id, duplicate: true)])
        }
    }

    @Test func scheduleRemovePendingDeletesOnlyFutureUnstartedOccurrences() throws {
        try withStore { store in
            let now = Date()
            let occs = (1...3).map { now.addingTimeInterval(Double($0) * 60) }
            let past = t0
            let r = try store.scheduleFire(ScheduleFireParams(
                task: "s", jobs: ([past] + occs).map { job("s", runAt: $0, scheduledFor: $0) }, lastFired: occs[2]))
            let plain = try store.jobInsert(job("s", runAt: now.addingTimeInterval(600))).id
            #expect(try store.scheduleRemovePending(task: "s", after: occs[0]) == 2)
            let left = try store.jobList(JobListParams(task: "s")).map(\.id)
            #expect(left == [plain, r[1].id, r[0].id])
        }
    }

    @Test func processesHeartbeatAndRescue() throws {
        try withStore { store in
            let start = Date().addingTimeInterval(-100)
            try store.processRegister(WorkerProcess(id: "alive", host: "h", pid: 1, queues: ["default", "mail"],
                                                    startedAt: start, heartbeatAt: start))
            try store.processRegister(WorkerProcess(id: "gone", host: "h", pid: 2, queues: ["default"],
                                                    startedAt: start, heartbeatAt: start, tasksVersion: "0123456789ab"))
            let list = try store.processList()
            #expect(list.map(\.id) == ["alive", "gone"])
            #expect(list[0].queues == ["default", "mail"])
            #expect(list[0].pid == 1)
            #expect(list.map(\.tasksVersion) == ["", "0123456789ab"], "each process's tasks version, as registered")
            // Registering again (a reload) replaces it.
            var reloaded = list[1]
            reloaded.tasksVersion = "ba9876543210"
            try store.processRegister(reloaded)
            #expect(try store.processList().map(\.tasksVersion) == ["", "ba9876543210"])

            let ids = try store.jobInsertMany((0..<4).map { _ in job(maxAttempts: 2) }).map(\.id)
            let byAlive = try store.claimAll(worker: "alive", limit: 1)
            let byGone = try store.claimAll(worker: "gone", limit: 2)
            let byNobody = try store.claimAll(worker: "never-registered", limit: 1)
            #expect(byAlive.count == 1 && byGone.count == 2 && byNobody.count == 1)
            #expect(try store.leaseRenew(processID: "alive", busy: 1, now: Date()) == true)
            #expect(try store.processList().first { $0.id == "alive" }?.busy == 1)

            // Retry the first lost job, let the second die.
            let firstLost = byGone[0].id
            let view = try store.leaseView()
            var stale: [String: Double?] = [:]
            for owner in view.runningOwners where owner != "alive" { stale.updateValue(view.heartbeats[owner], forKey: owner) }
            let rescued = try store.jobRescue(stale: stale) { j in
                j.id == firstLost ? Date() : nil
            }
            #expect(rescued == [byGone[0].id, byGone[1].id, byNobody[0].id].sorted())
            #expect(try store.state(byGone[0].id) == .retrying)
            #expect(try store.state(byGone[1].id) == .dead)
            #expect(try store.state(byAlive[0].id) == .running)
            let run = try store.jobRuns(id: byGone[1].id)[0]
            #expect(run.outcome == .aborted && run.error == "worker lost")
            #expect(try store.jobGet(id: byGone[1].id)?.error == "worker lost")
            #expect(try store.processList().map(\.id) == ["alive"])
            // The lost process finds out: its lease is gone and its completions are fenced.
            #expect(try store.leaseRenew(processID: "gone", busy: 0, now: Date()) == false)
            #expect(try store.complete(byGone[0], worker: "gone", .succeeded(result: "1")) == false)
            // The retried job runs again as attempt 2.
            #expect(try store.claimAll(worker: "alive").map(\.attempt) == [2])
            try store.processDeregister(id: "alive")
            #expect(try store.processList().isEmpty)
            #expect(ids.count == 4)
        }
    }

    @Test func stopRequests() throws {
        try withStore { store in
            let started = Date()
            #expect(try store.stopRequested(since: started) == false)
            try store.stopRequest(now: started.addingTimeInterval(-60))
            #expect(try store.stopRequested(since: started) == false)
            try store.stopRequest(now: started.addingTimeInterval(1))
            #expect(try store.stopRequested(since: started) == true)
            #expect(try store.stopRequested(since: started.addingTimeInterval(2)) == false)
        }
    }

    @Test func pruneDeletesOldFinishedJobsAndTheirRuns() throws {
        try withStore { store in
            let ids = try store.jobInsertMany((0..<5).map { _ in job() }).map(\.id)
            let js = try store.claimAll()
            let old = Date().addingTimeInterval(-7200)
            for j in js.prefix(3) { try store.complete(j, .succeeded(result: "1"), at: old) }
            try store.complete(js[3], .succeeded(result: "1"))
            try store.complete(js[4], .discarded(reason: "x"), at: old)
            let cutoff = Date().addingTimeInterval(-3600)
            #expect(try store.jobPrune(state: .succeeded, before: cutoff, limit: 2) == 2)
            #expect(try store.jobPrune(state: .succeeded, before: cutoff, limit: 2) == 1)
            #expect(try store.jobPrune(state: .succeeded, before: cutoff, limit: 2) == 0)
            #expect(try store.jobPrune(state: .running, before: Date(), limit: 10) == 0)
            for id in ids.prefix(3) {
                #expect(try store.jobGet(id: id) == nil)
                #expect(try store.jobRuns(id: id).isEmpty)
            }
            #expect(try store.state(ids[3]) == .succeeded)
            #expect(try store.state(ids[4]) == .dead)
            #expect(try store.jobPrune(state: .dead, before: cutoff, limit: 10) == 1)
            // Pruned ids are not handed out again.
            #expect(try store.jobInsert(job()).id > ids[4])
        }
    }

    /// A deleted job's runs go with it (PostgreSQL: the `jobs_delete_runs` trigger); the runs
    /// of the jobs left stay, and a removal on success (retention 0) takes its run too.
    @Test func deleteRemovesTheJobsRunsOnly() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<3).map { _ in job() })
            let js = try store.claimAll()
            #expect(js.count == 3)
            for j in js.prefix(2) { try store.complete(j, .failed(error: "x", traceback: nil, retryAt: nil)) }
            #expect(try store.jobDelete(ids: [js[0].id]) == [js[0].id])
            #expect(try store.jobRuns(id: js[0].id).isEmpty)
            #expect(try store.jobRuns(id: js[1].id).count == 1)
            var c = JobCompletion(jobID: js[2].id, attempt: js[2].attempt, worker: "w1", finishedAt: Date(),
                                  outcome: .succeeded(result: "1"))
            c.removeOnSuccess = true
            #expect(try store.jobCompleteMany([c]) == [true])
            #expect(try store.jobGet(id: js[2].id) == nil)
            #expect(try store.jobRuns(id: js[2].id).isEmpty)
        }
    }

    /// The Producer's list of queues with work: due jobs only, every queue, no duplicates.
    @Test func dueQueuesNameEveryQueueWithADueJob() throws {
        try withStore { store in
            let now = Date()
            _ = try store.jobInsertMany([
                job(queue: "b"), job(queue: "b"), job(queue: "a", priority: 5),
                job(queue: "later", runAt: now.addingTimeInterval(600)),
                job(queue: "mixed", priority: 9, runAt: now.addingTimeInterval(600)), job(queue: "mixed"),
                job(queue: "gone"),
            ])
            _ = try store.claimAll("gone")
            #expect(try store.dueQueues(now: now) == ["a", "b", "mixed"])
            #expect(try store.dueQueues(now: now.addingTimeInterval(3600)) == ["a", "b", "later", "mixed"])
        }
    }

    /// Pruning and counting go queue by queue through `jobs_finished` (state, queue, age):
    /// every queue's old jobs go, within the limit, and counts cover every state.
    @Test func pruneAndCountsAcrossQueues() throws {
        try withStore { store in
            let queues = ["a", "b", "c"]
            _ = try store.jobInsertMany(queues.flatMap { q in (0..<4).map { _ in job(queue: q) } })
            _ = try store.jobInsertMany([job(queue: "b"), job(queue: "c", runAt: Date().addingTimeInterval(600))])
            let old = Date().addingTimeInterval(-7200)
            for q in queues {
                let js = try store.claimAll(q, limit: 4)
                for j in js.prefix(3) { try store.complete(j, .succeeded(result: "1"), at: old) }
            }
            let counts = try store.jobCounts()
            #expect(counts == [
                QueueStateCount(queue: "a", state: .running, count: 1), QueueStateCount(queue: "a", state: .succeeded, count: 3),
                QueueStateCount(queue: "b", state: .queued, count: 1), QueueStateCount(queue: "b", state: .running, count: 1),
                QueueStateCount(queue: "b", state: .succeeded, count: 3),
                QueueStateCount(queue: "c", state: .running, count: 1), QueueStateCount(queue: "c", state: .scheduled, count: 1),
                QueueStateCount(queue: "c", state: .succeeded, count: 3),
            ])
            let cutoff = Date().addingTimeInterval(-3600)
            #expect(try store.jobPrune(state: .succeeded, before: cutoff, limit: 5) == 5)
            #expect(try store.jobPrune(state: .succeeded, before: cutoff, limit: 5) == 4)
            #expect(try store.jobPrune(state: .succeeded, before: cutoff, limit: 5) == 0)
            #expect(try store.jobCounts().filter { $0.state == .succeeded }.isEmpty)
        }
    }

    /// Run windows are found by id (no index on `finished_at`): they must count exactly what
    /// a scan of every run counts, with runs a little out of order as concurrent
    /// completions commit them, and across a window boundary of any minute.
    @Test func runWindowsCountExactlyWithoutAnIndex() throws {
        try withStore { store in
            let now = Date()
            _ = try store.jobInsertMany((0..<300).map { _ in job() })
            let jobs = try store.claimAll(limit: 300)
            var finishes: [Date] = []
            for (i, j) in jobs.enumerated() {
                // Three hours of runs, one a minute on average, up to 2 minutes out of commit order.
                let at = now.addingTimeInterval(-10_800 + Double(i) * 36 - Double((i * 7) % 5) * 24)
                finishes.append(at)
                try store.complete(j, i % 4 == 0 ? .failed(error: "e", traceback: nil, retryAt: nil) : .succeeded(result: "1"), at: at)
            }
            for minutesBack in [0, 1, 30, 59, 60, 61, 119, 180, 240] {
                let since = now.addingTimeInterval(-Double(minutesBack) * 60 - 0.5)
                let expected = finishes.filter { $0 >= since }.count
                let counted = try store.runCounts(since: since).values.reduce(0, +)
                #expect(counted == expected, "since \(minutesBack) min: \(counted) counted, \(expected) expected")
            }
            let minutes = try store.runsPerMinute(minutes: 60, now: now)
            let start = minutes[0].start
            let expected = finishes.filter { $0 >= start }.count
            #expect(minutes.reduce(0) { $0 + $1.succeeded + $1.failed } == expected)
        }
    }

    @Test func listsAndCounts() throws {
        try withStore { store in
            let now = Date()
            _ = try store.jobInsertMany([job("a"), job("b"), job("a", queue: "mail"),
                                         job("a", runAt: now.addingTimeInterval(300))])
            let js = try store.claimAll(limit: 2)
            try store.complete(js[0], .succeeded(result: "1"))
            try store.complete(js[1], .failed(error: "e", traceback: nil, retryAt: now.addingTimeInterval(100)))

            let all = try store.jobList(JobListParams())
            #expect(all.map(\.id) == all.map(\.id).sorted(by: >))
            #expect(all.count == 4)
            #expect(try store.jobList(JobListParams(task: "a")).count == 3)
            #expect(try store.jobList(JobListParams(task: "a", queue: "mail")).count == 1)
            #expect(try store.jobList(JobListParams(state: .succeeded)).map(\.id) == [js[0].id])
            #expect(try store.jobList(JobListParams(limit: 2, offset: 1)).map(\.id) == Array(all.map(\.id)[1...2]))

            let counts = try store.jobCounts()
            #expect(counts.contains(QueueStateCount(queue: "default", state: .succeeded, count: 1)))
            #expect(counts.contains(QueueStateCount(queue: "default", state: .retrying, count: 1)))
            #expect(counts.contains(QueueStateCount(queue: "default", state: .scheduled, count: 1)))
            #expect(counts.contains(QueueStateCount(queue: "mail", state: .queued, count: 1)))
            #expect(counts.count == 4)

            let runs = try store.runCounts(since: now.addingTimeInterval(-60))
            #expect(runs == [.succeeded: 1, .failed: 1])
            #expect(try store.runCounts(since: Date().addingTimeInterval(60)).isEmpty)

            #expect(abs(try #require(try store.oldestDue(now: now)).timeIntervalSince(t0)) < 0.001)
            #expect(try store.oldestDue(now: t0.addingTimeInterval(-1)) == nil)
            let next = try #require(try store.nextDue(queues: ["default"]))
            #expect(abs(next.timeIntervalSince(now.addingTimeInterval(100))) < 0.001)
            #expect(try store.nextDue(queues: ["mail"]) == nil)
            #expect(try store.nextDue(queues: []) == nil)
        }
    }
}

extension JobInsertParams {
    func withKey(_ key: String) -> JobInsertParams {
        var p = self
        p.uniqueKey = key
        return p
    }
}
