import CrescentCore
import CrescentStore
import Foundation
import Testing

@Suite("Store: claiming and completing")
struct ClaimCompleteTests {
    @Test func claimOrderIsPriorityThenRunAtThenID() throws {
        try withStore { store in
            let low = try store.jobInsert(job(priority: 0, runAt: t0)).id
            let highLate = try store.jobInsert(job(priority: 5, runAt: t0.addingTimeInterval(10))).id
            let highEarly = try store.jobInsert(job(priority: 5, runAt: t0)).id
            let lowSameTime = try store.jobInsert(job(priority: 0, runAt: t0)).id
            let lowEarliest = try store.jobInsert(job(priority: 0, runAt: t0.addingTimeInterval(-10))).id
            let claimed = try store.claimAll(limit: 10)
            #expect(claimed.map(\.id) == [highEarly, highLate, lowEarliest, low, lowSameTime])
            #expect(claimed.allSatisfy { $0.state == .running && $0.attempt == 1 })
        }
    }

    /// Jobs due later wait outside the claim's index: a claim stages its queue's waiting
    /// jobs whose time has come (`scheduled`, `retrying` after its backoff) to `queued`,
    /// then claims in priority order; the ones not due stay as they are, whatever their
    /// priority.
    @Test func dueWaitingJobsAreStagedThenClaimedInOrder() throws {
        try withStore { store in
            let now = Date()
            let later = try (0..<3).map { i in
                try store.jobInsert(job(priority: 10, runAt: now.addingTimeInterval(3600 + Double(i)))).id
            }
            let failing = try store.jobInsert(job(priority: 1)).id
            let attempt = try #require(try store.claimAll(now: now).first)
            try store.complete(attempt, .failed(error: "e", traceback: nil, retryAt: now.addingTimeInterval(30)))
            #expect(try store.state(failing) == .retrying)
            let queued = try store.jobInsert(job(priority: 0)).id
            let other = try store.jobInsert(job(queue: "other", priority: 10, runAt: now.addingTimeInterval(60))).id

            // Now: only the queued job is due.
            #expect(try store.claimAll(limit: 10, now: now).map(\.id) == [queued])
            #expect(try store.state(failing) == .retrying)
            #expect(try store.nextDue(queues: ["default"]).map { abs($0.timeIntervalSince(now.addingTimeInterval(30))) < 0.001 } == true)
            // Past the backoff: the retrying job is staged and claimed; the later ones wait.
            let second = try store.claimAll(limit: 10, now: now.addingTimeInterval(31))
            #expect(second.map(\.id) == [failing] && second[0].attempt == 2)
            #expect(try later.map { try store.state($0) } == [.scheduled, .scheduled, .scheduled])
            #expect(try store.dueQueues(now: now.addingTimeInterval(31)) == [])
            // The other queue's job is due in a minute: its queue shows as due once it is,
            // though no claim of that queue has staged it yet.
            #expect(try store.dueQueues(now: now.addingTimeInterval(61)) == ["other"])
            #expect(try store.oldestDuePerQueue(now: now.addingTimeInterval(61)).keys.sorted() == ["other"])
            #expect(try store.state(other) == .scheduled)
            // An hour on, the later jobs are due: claimed by priority, then due time.
            let third = try store.claimAll(limit: 2, now: now.addingTimeInterval(3700))
            #expect(third.map(\.id) == Array(later.prefix(2)))
            let counts = Dictionary(try store.jobCounts().filter { $0.queue == "default" }.map { ($0.state, $0.count) },
                                    uniquingKeysWith: +)
            #expect(counts == [.queued: 1, .running: 4], "the third is staged by the claim that found it due")
        }
    }

    @Test func claimHonoursLimitDueTimeAndQueue() throws {
        try withStore { store in
            let now = Date()
            let due = try (0..<5).map { i in try store.jobInsert(job(runAt: t0.addingTimeInterval(Double(i)))).id }
            let future = try store.jobInsert(job(runAt: now.addingTimeInterval(3600))).id
            let other = try store.jobInsert(job(queue: "other")).id
            let first = try store.claimAll(limit: 2, now: now)
            #expect(first.map(\.id) == Array(due.prefix(2)))
            let rest = try store.claimAll(limit: 10, now: now)
            #expect(rest.map(\.id) == Array(due.suffix(3)))
            #expect(try store.claimAll(limit: 10, now: now).isEmpty)
            #expect(try store.state(future) == .scheduled)
            #expect(try store.state(other) == .queued)
            #expect(try store.claimAll("other").map(\.id) == [other])
            #expect(try store.jobClaim(JobClaimParams(queue: "default", limit: 0, worker: "w1")).isEmpty)
        }
    }

    @Test func claimOpensARunRow() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            let before = Date()
            let claimed = try store.claimAll(worker: "host:1:abc", now: before)
            #expect(claimed.count == 1)
            let runs = try store.jobRuns(id: id)
            #expect(runs.count == 1)
            #expect(runs[0].attempt == 1)
            #expect(runs[0].worker == "host:1:abc")
            #expect(runs[0].finishedAt == nil && runs[0].outcome == nil)
            #expect(abs(runs[0].startedAt.timeIntervalSince(before)) < 0.001)
        }
    }

    @Test func completionsAreFencedByWorkerAndAttempt() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            let j = try store.claimAll(worker: "w1")[0]
            let push = job("pushed")
            let write = StoreWrite(task: "t", key: "cursor", value: "42")
            // Another worker, or a stale attempt: rejected, nothing applied.
            #expect(try store.complete(j, worker: "w2", .succeeded(result: "1"), pushes: [push], writes: [write]) == false)
            var stale = j
            stale.attempt = 2
            #expect(try store.complete(stale, .succeeded(result: "1"), pushes: [push], writes: [write]) == false)
            #expect(try store.state(id) == .running)
            #expect(try store.jobRuns(id: id)[0].outcome == nil)
            #expect(try store.jobList(JobListParams(task: "pushed")).isEmpty)
            #expect(try store.storeGet(task: "t", key: "cursor") == nil)
            // The owner completes; a second completion of the same attempt is fenced out.
            #expect(try store.complete(j, .succeeded(result: "1")) == true)
            #expect(try store.complete(j, .succeeded(result: "2")) == false)
            #expect(try store.jobGet(id: id)?.result == "1")
        }
    }

    @Test func batchAppliesEachCompletionOnItsOwn() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<3).map { _ in job() })
            let js = try store.claimAll()
            let results = try store.jobCompleteMany([
                JobCompletion(jobID: js[0].id, attempt: 1, worker: "w1", outcome: .succeeded(result: "0")),
                JobCompletion(jobID: js[1].id, attempt: 1, worker: "nobody", outcome: .succeeded(result: "1")),
                JobCompletion(jobID: js[2].id, attempt: 1, worker: "w1", outcome: .discarded(reason: "no")),
            ])
            #expect(results == [true, false, true])
            #expect(try store.state(js[0].id) == .succeeded)
            #expect(try store.state(js[1].id) == .running)
            #expect(try store.state(js[2].id) == .dead)
            #expect(try store.jobCompleteMany([]).isEmpty)
        }
    }

    @Test func succeededStoresResultAndClearsError() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            let j1 = try store.claimAll()[0]
            let retryAt = Date().addingTimeInterval(-1)
            try store.complete(j1, .failed(error: "first", traceback: "tb", retryAt: retryAt))
            let j2 = try store.claimAll()[0]
            #expect(j2.attempt == 2)
            #expect(j2.error == "first")
            let end = Date()
            try store.complete(j2, .succeeded(result: #"{"ok":true}"#), at: end)
            let done = try #require(try store.jobGet(id: id))
            #expect(done.state == .succeeded)
            #expect(done.result == #"{"ok":true}"#)
            #expect(done.error == nil)
            #expect(done.attempt == 2)
            #expect(abs(done.finishedAt!.timeIntervalSince(end)) < 0.001)
            let runs = try store.jobRuns(id: id)
            #expect(runs.map(\.outcome) == [.failed, .succeeded])
            #expect(runs.map(\.attempt) == [1, 2])
            #expect(runs[0].error == "first" && runs[0].traceback == "tb")
            #expect(runs[1].error == nil && runs[1].finishedAt != nil)
        }
    }

    @Test func failedWithRetryIsRetryingAtThatTime() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            let j = try store.claimAll()[0]
            let at = Date().addingTimeInterval(120)
            try store.complete(j, .failed(error: "nope", traceback: "stack", retryAt: at))
            let after = try #require(try store.jobGet(id: id))
            #expect(after.state == .retrying)
            #expect(after.error == "nope")
            #expect(after.finishedAt == nil)
            #expect(abs(after.runAt.timeIntervalSince(at)) < 0.001)
            #expect(try store.claimAll().isEmpty)
            #expect(try store.claimAll(now: at.addingTimeInterval(1)).map(\.id) == [id])
            // Unique key still held while retrying.
            let run = try store.jobRuns(id: id)[0]
            #expect(run.outcome == .failed && run.error == "nope" && run.traceback == "stack")
        }
    }

    @Test func failedWithoutRetryIsDead() throws {
        try withStore { store in
            let id = try store.jobInsert(job(uniqueKey: "d")).id
            try store.complete(try store.claimAll()[0], .failed(error: "fatal", traceback: nil, retryAt: nil))
            let after = try #require(try store.jobGet(id: id))
            #expect(after.state == .dead)
            #expect(after.error == "fatal")
            #expect(after.finishedAt != nil)
            #expect(try store.jobInsert(job(uniqueKey: "d")).duplicate == false)
        }
    }

    @Test func snoozeDoesNotUseAnAttempt() throws {
        try withStore { store in
            let id = try store.jobInsert(job(maxAttempts: 3)).id
            let j = try store.claimAll()[0]
            let until = Date().addingTimeInterval(30)
            try store.complete(j, .snoozed(until: until))
            let after = try #require(try store.jobGet(id: id))
            #expect(after.state == .scheduled)
            #expect(after.attempt == 1)
            #expect(after.maxAttempts == 4)
            #expect(abs(after.runAt.timeIntervalSince(until)) < 0.001)
            #expect(try store.jobRuns(id: id)[0].outcome == .snoozed)
            let again = try store.claimAll(now: until.addingTimeInterval(1))
            #expect(again.map(\.attempt) == [2])
            // Snoozing into the past makes it queued at once.
            try store.complete(again[0], .snoozed(until: Date().addingTimeInterval(-1)))
            #expect(try store.state(id) == .queued)
        }
    }

    @Test func discardIsDeadWithTheReason() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            try store.complete(try store.claimAll()[0], .discarded(reason: "bad input"))
            let after = try #require(try store.jobGet(id: id))
            #expect(after.state == .dead && after.error == "bad input" && after.finishedAt != nil)
            let run = try store.jobRuns(id: id)[0]
            #expect(run.outcome == .discarded && run.error == "bad input")
        }
    }

    @Test func abortedRetriesOrDiesOrIsCancelled() throws {
        try withStore { store in
            let a = try store.jobInsert(job()).id
            let b = try store.jobInsert(job()).id
            let c = try store.jobInsert(job()).id
            let js = try store.claimAll()
            #expect(try store.jobCancel(ids: [c]) == [c])
            #expect(try store.jobCancelRequested(worker: "w1") == [c])
            #expect(try store.jobCancelRequested(worker: "w2").isEmpty)
            try store.complete(js[0], .aborted(error: "ttl exceeded", retryAt: Date()))
            try store.complete(js[1], .aborted(error: "memory limit exceeded", retryAt: nil))
            try store.complete(js[2], .aborted(error: "cancelled", retryAt: Date()))
            #expect(try store.state(a) == .retrying)
            #expect(try store.state(b) == .dead)
            #expect(try store.state(c) == .cancelled)
            #expect(try store.jobGet(id: a)?.error == "ttl exceeded")
            for id in [a, b, c] { #expect(try store.jobRuns(id: id)[0].outcome == .aborted) }
            #expect(try store.jobGet(id: c)?.finishedAt != nil)
            #expect(try store.jobCancelRequested(worker: "w1").isEmpty)
        }
    }

    @Test func releaseGivesTheAttemptBack() throws {
        try withStore { store in
            let id = try store.jobInsert(job()).id
            let j = try store.claimAll()[0]
            try store.complete(j, .released)
            let after = try #require(try store.jobGet(id: id))
            #expect(after.state == .queued)
            #expect(after.attempt == 0)
            let again = try store.claimAll()
            #expect(again.map(\.attempt) == [1])
            try store.complete(again[0], .succeeded(result: "null"))
            let runs = try store.jobRuns(id: id)
            #expect(runs.map(\.outcome) == [.released, .succeeded])
            #expect(runs.map(\.attempt) == [1, 1])
        }
    }

    @Test func pushesAndStoreWritesApplyOnlyOnSuccess() throws {
        try withStore { store in
            _ = try store.jobInsertMany([job("a"), job("b")])
            let js = try store.claimAll()
            let reserved = try store.jobReserveIDs(count: 2)
            let pushes = [job("child", args: #"{"from":"a"}"#, id: reserved.first!),
                          job("child", args: #"{"from":"a2"}"#, runAt: Date().addingTimeInterval(60), id: reserved.last!)]
            let writes = [StoreWrite(task: "a", key: "cursor", value: #"{"page":2}"#), StoreWrite(task: "a", key: "gone", value: nil)]
            try store.storeApply([StoreWrite(task: "a", key: "gone", value: "1")])
            // The failed attempt changes nothing.
            try store.complete(js[1], .failed(error: "x", traceback: nil, retryAt: Date()),
                               pushes: [job("child", args: #"{"from":"b"}"#)],
                               writes: [StoreWrite(task: "a", key: "cursor", value: "\"b\"")])
            #expect(try store.jobList(JobListParams(task: "child")).isEmpty)
            #expect(try store.storeGet(task: "a", key: "cursor") == nil)
            // The succeeded one applies both, with the reserved ids.
            try store.complete(js[0], .succeeded(result: "null"), pushes: pushes, writes: writes)
            let children = try store.jobList(JobListParams(task: "child"))
            #expect(children.map(\.id) == [reserved.last!, reserved.first!])
            #expect(children.map(\.state) == [.scheduled, .queued])
            #expect(try store.storeGet(task: "a", key: "cursor") == #"{"page":2}"#)
            #expect(try store.storeGet(task: "a", key: "gone") == nil)
            #expect(try store.storeGet(task: "b", key: "cursor") == nil)
        }
    }

    /// Many pushes go several rows per INSERT statement: each row keeps its own reserved
    /// id, state, args and queue, a unique push in the middle still deduplicates, and a
    /// reused id in a multi-row statement rolls the whole completion back.
    @Test func manyPushesInsertEveryRowAsGiven() throws {
        try withStore { store in
            _ = try store.jobInsertMany([job("fan"), job("fan")])
            let js = try store.claimAll()
            let held = try store.jobInsert(job("u", uniqueKey: "k")).id
            let ids = Array(try store.jobReserveIDs(count: 50))
            let later = Date().addingTimeInterval(600)
            var pushes = ids.enumerated().map { i, id in
                job("child", queue: i % 3 == 0 ? "q3" : "default", args: #"{"n":\#(i)}"#,
                    runAt: i % 5 == 0 ? later : t0, id: id)
            }
            pushes.insert(job("u", uniqueKey: "k"), at: 20)
            try store.complete(js[0], .succeeded(result: "null"), pushes: pushes)
            let children = try store.jobList(JobListParams(task: "child", limit: 100)).sorted { $0.id < $1.id }
            #expect(children.map(\.id) == ids)
            for (i, child) in children.enumerated() {
                #expect(child.args == #"{"n":\#(i)}"#)
                #expect(child.queue == (i % 3 == 0 ? "q3" : "default"))
                #expect(child.state == (i % 5 == 0 ? .scheduled : .queued))
            }
            #expect(try store.jobList(JobListParams(task: "u")).map(\.id) == [held])

            // An id already used, inside a run of pushes: nothing of the completion applies.
            let more = Array(try store.jobReserveIDs(count: 20))
            var clash = more.map { job("again", id: $0) }
            clash[10] = job("again", id: ids[0])
            #expect(throws: (any Error).self) { try store.complete(js[1], .succeeded(result: "null"), pushes: clash) }
            #expect(try store.jobList(JobListParams(task: "again")).isEmpty)
            #expect(try store.state(js[1].id) == .running)
        }
    }

    /// A batch's run rows are written several per statement: each applied completion gets
    /// exactly its own row, a fenced-out one none.
    @Test func aLargeBatchWritesOneRunRowPerAppliedCompletion() throws {
        try withStore { store in
            _ = try store.jobInsertMany((0..<37).map { _ in job(maxAttempts: 3) })
            let js = try store.claimAll()
            let completions = js.enumerated().map { i, j in
                JobCompletion(jobID: j.id, attempt: j.attempt, worker: i == 30 ? "stranger" : "w1",
                              outcome: i % 4 == 0 ? .failed(error: "e\(i)", traceback: "tb\(i)", retryAt: Date())
                                                  : .succeeded(result: "\(i)"))
            }
            let applied = try store.jobCompleteMany(completions)
            #expect(applied == js.indices.map { $0 != 30 })
            for (i, j) in js.enumerated() {
                let runs = try store.jobRuns(id: j.id)
                if i == 30 {
                    #expect(runs.map(\.outcome) == [nil])  // still running: the attempt in progress only
                    continue
                }
                #expect(runs.count == 1)
                #expect(runs.first?.outcome == (i % 4 == 0 ? .failed : .succeeded))
                #expect(runs.first?.error == (i % 4 == 0 ? "e\(i)" : nil))
                #expect(runs.first?.traceback == (i % 4 == 0 ? "tb\(i)" : nil))
                #expect(runs.first?.worker == "w1")
            }
        }
    }

    /// Completions applied a chunk per statement end exactly as they do one at a time, for
    /// every outcome; a chunk with a cancelled job (or a fenced-out one) falls back to rows.
    @Test func chunkedCompletionsEndLikeSingleOnes() throws {
        let started = Date().addingTimeInterval(-5)
        let end = Date().addingTimeInterval(-1)
        func outcome(_ i: Int) -> CompletionOutcome {
            switch i % 9 {
            case 0, 1: return .succeeded(result: #"{"n":\#(i)}"#)
            case 2: return .failed(error: "e\(i)", traceback: "tb\(i)", retryAt: end.addingTimeInterval(60))
            case 3: return .failed(error: "e\(i)", traceback: nil, retryAt: nil)
            case 4: return .snoozed(until: end.addingTimeInterval(3600))
            case 5: return .discarded(reason: "d\(i)")
            case 6: return .aborted(error: "ttl", retryAt: end.addingTimeInterval(30))
            case 7: return .aborted(error: "ttl", retryAt: nil)
            default: return .released
            }
        }
        // Jobs and their runs as the outcomes leave them (times to the millisecond).
        func ending(batched: Bool, cancel: Int? = nil, stranger: Int? = nil) throws -> [String] {
            try withStore { store in
                _ = try store.jobInsertMany((0..<70).map { _ in job(maxAttempts: 3) })
                let js = try store.claimAll(limit: 100, now: started)
                if let cancel { _ = try store.jobCancel(ids: [js[cancel].id]) }
                let completions = js.enumerated().map { i, j in
                    JobCompletion(jobID: j.id, attempt: j.attempt, worker: i == stranger ? "stranger" : "w1", startedAt: started,
                                  finishedAt: end, outcome: outcome(i))
                }
                let applied = batched ? try store.jobCompleteMany(completions)
                                      : try completions.flatMap { try store.jobCompleteMany([$0]) }
                #expect(applied == js.indices.map { $0 != stranger })
                func ms(_ d: Date?) -> String { d.map { "\(Int(($0.timeIntervalSince1970 * 1000).rounded()))" } ?? "-" }
                return try js.map { j in
                    let e = try #require(try store.jobGet(id: j.id))
                    let runs = try store.jobRuns(id: j.id).map {
                        "\($0.attempt) \(ms($0.startedAt)) \(ms($0.finishedAt)) \($0.outcome?.rawValue ?? "-") \($0.error ?? "-") \($0.traceback ?? "-") \($0.worker)"
                    }
                    return "\(e.state) a\(e.attempt)/\(e.maxAttempts) \(e.result ?? "-") \(e.error ?? "-") \(ms(e.runAt)) \(ms(e.finishedAt)) \(runs)"
                }
            }
        }
        let single = try ending(batched: false)
        #expect(try ending(batched: true) == single)
        #expect(Set(single.map { $0.split(separator: " ")[0] }).count == 5)  // succeeded, retrying, dead, scheduled, queued

        var cancelled = single
        cancelled[40] = try ending(batched: false, cancel: 40)[40]
        #expect(cancelled[40].hasPrefix("cancelled"))
        #expect(try ending(batched: true, cancel: 40) == cancelled)

        let fenced = try ending(batched: false, stranger: 20)
        #expect(fenced[20].hasPrefix("running"))
        #expect(try ending(batched: true, stranger: 20) == fenced)
    }

    /// The pipeline's cycle: completions, then claims queue by queue within one budget, in
    /// one transaction; a failing completion rolls the claims back too.
    @Test func oneCycleCompletesThenClaimsWithinTheBudget() throws {
        try withStore { store in
            _ = try store.jobInsertMany([job("a"), job("a")])
            let first = try store.claimAll()
            _ = try store.jobInsertMany([job(queue: "q1"), job(queue: "q1"), job(queue: "q2"), job(queue: "q2"), job(queue: "q2")])
            let claims = ["q1", "q2", "q3"].map { JobClaimParams(queue: $0, limit: 10, worker: "w1") }
            let done = [JobCompletion(jobID: first[0].id, attempt: 1, worker: "w1", outcome: .succeeded(result: "1"))]
            let cycle = try store.jobCompleteAndClaim(done, claims: claims, claimBudget: 3)
            #expect(cycle.applied == [true])
            // q1 takes both of its jobs, q2 what is left of the budget, q3 has none.
            #expect(cycle.claimed.map(\.count) == [2, 1, 0])
            #expect(cycle.claimed.joined().allSatisfy { $0.state == .running && $0.attempt == 1 })
            #expect(try store.state(first[0].id) == .succeeded)

            // A push with an id already used: nothing of the cycle applies, no claim either.
            let bad = JobCompletion(jobID: first[1].id, attempt: 1, worker: "w1", outcome: .succeeded(result: "2"),
                                    pushes: [job("again", id: first[0].id)])
            #expect(throws: (any Error).self) {
                try store.jobCompleteAndClaim([bad], claims: [JobClaimParams(queue: "q2", limit: 10, worker: "w1")], claimBudget: 10)
            }
            #expect(try store.state(first[1].id) == .running)
            #expect(try store.jobList(JobListParams(state: .queued, queue: "q2")).count == 2)
        }
    }

    @Test func expiredJobsAreDroppedAtClaim() throws {
        try withStore { store in
            let now = Date()
            let stale = try store.jobInsert(job(expiresAt: now.addingTimeInterval(-1))).id
            let fresh = try store.jobInsert(job(expiresAt: now.addingTimeInterval(60))).id
            let otherQueue = try store.jobInsert(job(queue: "q2", expiresAt: now.addingTimeInterval(-1))).id
            let claimed = try store.claimAll(now: now)
            #expect(claimed.map(\.id) == [fresh])
            let e = try #require(try store.jobGet(id: stale))
            #expect(e.state == .expired)
            #expect(e.error == "expired before it started")
            #expect(e.finishedAt != nil)
            #expect(try store.state(otherQueue) == .queued)
            // Once started, a job no longer expires (its retry is not dropped).
            try store.complete(claimed[0], .failed(error: "x", traceback: nil, retryAt: now))
            #expect(try store.claimAll(now: now.addingTimeInterval(120)).map(\.id) == [fresh])
        }
    }
}
