import CrescentCore
import CrescentStore
import Foundation
import Testing

/// What only PostgreSQL has to show: wake-ups through NOTIFY, and store checks and
/// increments made by several processes (store objects, each with its own connections) at
/// once. Runs with `CRESCENT_TEST_STORE=postgres`.
@Suite("Store: PostgreSQL across processes", .enabled(if: TestStore.isPostgres))
struct PostgresJobsTests {
    /// Polls `condition` until it holds or 10 s pass.
    func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return try condition()
    }

    @Test func insertsPushesAndReleasesWakeOtherStores() throws {
        let db = try TempDatabase()
        let a = try db.open(), b = try db.open()
        // The listener connects in the background: insert until one is seen.
        var token = try b.wakeToken()
        #expect(try eventually {
            _ = try a.jobInsert(job("warm-up", queue: "warm-up"))
            return try b.wakeToken() != token
        })

        token = try b.wakeToken()
        _ = try a.jobInsertMany([job(), job(queue: "mail")])
        #expect(try eventually { try b.wakeToken() != token })

        // A success's pushes wake them too.
        let claimed = try a.claimAll(limit: 1)
        token = try b.wakeToken()
        let ids = try a.jobReserveIDs(count: 2)
        #expect(try a.complete(claimed[0], .succeeded(result: "null"),
                               pushes: ids.map { job("child", id: $0) }))
        #expect(try eventually { try b.wakeToken() != token })

        // So does a job handed back (due again at once).
        let again = try a.claimAll(limit: 1)
        token = try b.wakeToken()
        #expect(try a.complete(again[0], .released))
        #expect(try eventually { try b.wakeToken() != token })
    }

    @Test func checkedSuccessesOnSeveralStoresNeverBothApply() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        for round in 0..<10 {
            let key = "k\(round)"
            _ = try stores[0].jobInsertMany([job(), job()])
            let jobs = try stores[0].claimAll(limit: 2)
            #expect(jobs.count == 2)
            // Both attempts read the key absent and set it: one of them must be a conflict.
            let results = ResultBox()
            onThreads(2) { i in
                do {
                    let c = JobCompletion(jobID: jobs[i].id, attempt: jobs[i].attempt, worker: "w1", startedAt: Date(),
                                          outcome: .succeeded(result: "null"),
                                          storeWrites: [StoreWrite(task: "t", key: key, value: "\(i)")],
                                          storeReads: [StoreRead(task: "t", key: key, value: nil)])
                    let r = try stores[i].jobCompleteAndClaim([c], claims: [], claimBudget: 0)
                    results.add(applied: r.applied[0], conflict: !r.conflicts.isEmpty)
                } catch {
                    results.add(error: error)
                }
            }
            let seen = results.snapshot
            #expect(seen.errors.isEmpty)
            #expect(seen.applied == 2)
            #expect(seen.conflicts == 1)
            #expect(try stores[1].storeGet(task: "t", key: key) != nil)
            // The conflicting one is queued again: finish it so the next round starts clean.
            for j in try stores[0].claimAll(limit: 10) {
                try stores[0].complete(j, .succeeded(result: "null"))
            }
        }
    }

    @Test func incrementsFromSeveralStoresAllCount() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        let perThread = 40
        _ = try stores[0].jobInsertMany(Array(repeating: job(), count: 4 * perThread))
        let results = ResultBox()
        onThreads(4) { i in
            let store = stores[i % 2]
            do {
                for _ in 0..<perThread {
                    let jobs = try store.claimAll(worker: "w\(i)", limit: 1)
                    guard let j = jobs.first else { return }
                    let c = JobCompletion(jobID: j.id, attempt: j.attempt, worker: "w\(i)", startedAt: Date(),
                                          outcome: .succeeded(result: "null"),
                                          storeWrites: [StoreWrite(task: "t", key: "n", value: "1", increment: true)])
                    let r = try store.jobCompleteAndClaim([c], claims: [], claimBudget: 0)
                    results.add(applied: r.applied[0], conflict: !r.conflicts.isEmpty)
                }
            } catch {
                results.add(error: error)
            }
        }
        let seen = results.snapshot
        #expect(seen.errors.isEmpty)
        #expect(seen.conflicts == 0)
        #expect(try stores[0].storeGet(task: "t", key: "n") == "\(seen.applied)")
        #expect(seen.applied == 4 * perThread)
    }

    @Test func aScheduleOccurrenceFiredOnSeveralStoresIsOneJob() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open(), try db.open()]
        let at = Date(timeIntervalSince1970: 1_700_000_123.4567)
        let ids = IDBox()
        onThreads(3) { i in
            do {
                let r = try stores[i].scheduleFire(ScheduleFireParams(
                    task: "tick", jobs: [job("tick", runAt: at, scheduledFor: at)], lastFired: at))
                ids.add(r[0])
            } catch {
                ids.add(error: error)
            }
        }
        let seen = ids.snapshot
        #expect(seen.errors.isEmpty)
        #expect(Set(seen.ids.map(\.id)).count == 1)
        #expect(seen.ids.filter { !$0.duplicate }.count == 1)
        #expect(try stores[0].scheduleLastFired(task: "tick") == Date(timeIntervalSince1970: at.timeIntervalSince1970))
    }
}

final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var applied = 0, conflicts = 0
    private var errors: [String] = []
    func add(applied a: Bool, conflict: Bool) { lock.withLock { applied += a ? 1 : 0; conflicts += conflict ? 1 : 0 } }
    func add(error: any Error) { lock.withLock { errors.append("\(error)") } }
    var snapshot: (applied: Int, conflicts: Int, errors: [String]) { lock.withLock { (applied, conflicts, errors) } }
}

final class IDBox: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: [JobInsertResult] = []
    private var errors: [String] = []
    func add(_ r: JobInsertResult) { lock.withLock { ids.append(r) } }
    func add(error: any Error) { lock.withLock { errors.append("\(error)") } }
    var snapshot: (ids: [JobInsertResult], errors: [String]) { lock.withLock { (ids, errors) } }
}

/// The pipeline's cycle on PostgreSQL (completions of the last claims, then a claim, in one
/// transaction) and pushes inserted by completions. Prints rates; runs only when
/// `CRESCENT_STORE_BENCH` is set on a PostgreSQL run. Timings never decide pass or fail.
@Suite("Store benchmark: PostgreSQL cycles", .enabled(if: TestStore.isPostgres && StoreBenchmark.count > 0))
struct PostgresCycleBenchmark {
    @Test func cyclesAndPushes() throws {
        let n = StoreBenchmark.count
        try withStore { store in
            _ = try store.jobInsertMany((0..<n).map { job("bench", args: #"{"i":\#($0)}"#) })
            var start = Date()
            var done = 0
            var previous: [Job] = []
            repeat {
                let completions = previous.map {
                    JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: "bench", startedAt: start,
                                  outcome: .succeeded(result: "null"))
                }
                let r = try store.jobCompleteAndClaim(completions, claims: [JobClaimParams(queue: "default", limit: 200, worker: "bench")],
                                                      claimBudget: 200)
                done += r.applied.filter { $0 }.count
                previous = r.claimed[0]
            } while !previous.isEmpty
            print("store bench (postgres): \(n) jobs drained by cycles of 200 at \(Int(Double(done) / Date().timeIntervalSince(start)))/s")
            #expect(done == n)

            // One job pushing n children on success.
            _ = try store.jobInsert(job("parent", queue: "parents"))
            let parent = try store.claimAll("parents", worker: "bench", limit: 1)
            let ids = try store.jobReserveIDs(count: n)
            start = Date()
            let applied = try store.jobCompleteMany([JobCompletion(
                jobID: parent[0].id, attempt: parent[0].attempt, worker: "bench", startedAt: start,
                outcome: .succeeded(result: "null"), pushes: ids.map { job("child", queue: "children", id: $0) })])
            print("store bench (postgres): \(n) pushes committed at \(Int(Double(n) / Date().timeIntervalSince(start)))/s")
            #expect(applied == [true])
            #expect(try store.claimAll("children", worker: "bench", limit: n).count == n)
        }
    }
}

/// Text with the characters array and string literals treat specially goes in and comes
/// out unchanged, through every path (single and set-wise inserts, claims, completions,
/// pushes, store writes).
@Suite("Store: awkward text")
struct AwkwardTextTests {
    static let text = #"a"b\c,{x} 'q' NULL "" é 😀"#
    static let args = #"{"s":"a\"b\\c,{x} 'q' NULL \"\" é 😀"}"#

    @Test func awkwardTextRoundTrips() throws {
        try withStore { store in
            let many = try store.jobInsertMany([job(queue: Self.text, args: Self.args), job(queue: Self.text, args: "{}")])
            let one = try store.jobInsert(job(Self.text, queue: Self.text, args: Self.args, uniqueKey: Self.text))
            #expect(try store.jobInsert(job(Self.text, queue: Self.text, uniqueKey: Self.text)) == JobInsertResult(id: one.id, duplicate: true))
            let claimed = try store.claimAll(Self.text, worker: Self.text, limit: 10)
            #expect(Set(claimed.map(\.id)) == Set(many.map(\.id) + [one.id]))
            #expect(claimed.first { $0.id == one.id }?.args == Self.args)
            #expect(claimed.first { $0.id == one.id }?.task == Self.text)
            #expect(claimed.first { $0.id == one.id }?.uniqueKey == Self.text)

            let ids = try store.jobReserveIDs(count: 2)
            let completions = claimed.map {
                JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: Self.text, outcome: .succeeded(result: Self.args),
                              pushes: $0.id == one.id ? ids.map { job(Self.text, queue: "pushed", args: Self.args, id: $0) } : [],
                              storeWrites: $0.id == one.id ? [StoreWrite(task: Self.text, key: Self.text, value: Self.args)] : [])
            }
            let claimedAgain = try store.jobClaim(JobClaimParams(queue: "x", limit: 1, worker: Self.text))
            #expect(claimedAgain.isEmpty)
            #expect(try store.jobCompleteMany(completions) == [true, true, true])
            #expect(try store.jobGet(id: one.id)?.result == Self.args)
            #expect(try store.storeGet(task: Self.text, key: Self.text) == Self.args)
            let pushed = try store.claimAll("pushed", limit: 10)
            #expect(pushed.map(\.id) == ids)
            #expect(pushed.allSatisfy { $0.args == Self.args && $0.task == Self.text })
            #expect(try store.jobRuns(id: one.id).first?.worker == Self.text)
        }
    }

    @Test(.enabled(if: TestStore.isPostgres)) func aNulCharacterIsRefusedNotCut() throws {
        try withStore { store in
            var refused = false
            do { try store.storeApply([StoreWrite(task: "t", key: "a\u{0}b", value: "1")]) } catch { refused = true }
            #expect(refused)
            let cut = try store.storeGet(task: "t", key: "a")
            #expect(cut == nil)
        }
    }
}
