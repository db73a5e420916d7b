import CrescentCore
import CrescentStore
import Foundation
import Testing

/// Collects results from several threads.
final class Collector: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed: [Int64] = []
    private var inserted: [Int64] = []
    private var errors: [String] = []
    func add(claimed ids: [Int64]) { lock.withLock { claimed += ids } }
    func add(inserted ids: [Int64]) { lock.withLock { inserted += ids } }
    func add(error: any Error) { lock.withLock { errors.append("\(error)") } }
    var snapshot: (claimed: [Int64], inserted: [Int64], errors: [String]) { lock.withLock { (claimed, inserted, errors) } }
}

/// Runs `body(i)` on `count` threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let t = Thread { body(i); group.leave() }
        t.stackSize = 1 << 20
        t.start()
    }
    group.wait()
}

@Suite("Store: several stores on one database")
struct ConcurrencyTests {
    @Test func twoStoresInsertAndClaimWithoutDoubleClaims() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        let perInserter = 400
        let expectedTotal = 2 * (perInserter - perInserter / 50 + perInserter / 50 * 10)
        let collector = Collector()
        // Two inserting threads and four claiming-and-completing threads, across both stores.
        onThreads(6) { i in
            let store = stores[i % 2]
            do {
                if i < 2 {
                    for n in 0..<perInserter {
                        if n % 50 == 0 {
                            let batch = (0..<10).map { k in job(args: #"{"i":\#(i),"n":\#(n),"k":\#(k)}"#) }
                            collector.add(inserted: try store.jobInsertMany(batch).map(\.id))
                        } else {
                            collector.add(inserted: [try store.jobInsert(job(args: #"{"i":\#(i),"n":\#(n)}"#)).id])
                        }
                    }
                } else {
                    let worker = "worker-\(i)"
                    let deadline = Date().addingTimeInterval(120)
                    var idle = 0
                    while Date() < deadline {
                        let jobs = try store.jobClaim(JobClaimParams(queue: "default", limit: 7, worker: worker))
                        collector.add(claimed: jobs.map(\.id))
                        let completions = jobs.map {
                            JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: worker, outcome: .succeeded(result: "null"))
                        }
                        let applied = try store.jobCompleteMany(completions)
                        if applied.contains(false) { collector.add(error: CrescentError.failed("a completion was fenced out")) }
                        if jobs.isEmpty {
                            idle += 1
                            // Every job that will be inserted has succeeded.
                            if idle > 10, try store.jobCounts().reduce(0, { $0 + ($1.state == .succeeded ? $1.count : 0) }) == expectedTotal {
                                break
                            }
                            Thread.sleep(forTimeInterval: 0.001)
                        } else {
                            idle = 0
                        }
                    }
                }
            } catch {
                collector.add(error: error)
            }
        }
        let (claimed, inserted, errors) = collector.snapshot
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(inserted.count == expectedTotal)
        #expect(Set(inserted).count == inserted.count)
        #expect(claimed.count == inserted.count, "every job claimed exactly once")
        #expect(Set(claimed) == Set(inserted))
        let counts = try stores[0].jobCounts()
        #expect(counts == [QueueStateCount(queue: "default", state: .succeeded, count: expectedTotal)])
    }

    @Test func concurrentUniqueInsertsYieldOneJob() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        let collector = Collector()
        onThreads(4) { i in
            do {
                for _ in 0..<50 {
                    collector.add(inserted: [try stores[i % 2].jobInsert(job(uniqueKey: "only-one")).id])
                }
                let occ = Date(timeIntervalSince1970: 1_900_000_000)
                let r = try stores[i % 2].scheduleFire(ScheduleFireParams(
                    task: "cron", jobs: [job("cron", runAt: occ, scheduledFor: occ)], lastFired: occ))
                collector.add(claimed: r.map(\.id))
            } catch {
                collector.add(error: error)
            }
        }
        let (occurrences, inserted, errors) = collector.snapshot
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(Set(inserted).count == 1)
        #expect(Set(occurrences).count == 1)
        #expect(try stores[0].jobList(JobListParams(limit: 100)).count == 2)
    }

    @Test func severalStoresCreatingOneNewFileAtOnce() throws {
        let db = try TempDatabase()
        let collector = Collector()
        onThreads(4) { i in
            do {
                let store = try db.open()
                collector.add(inserted: [try store.jobInsert(job("t\(i)")).id])
            } catch {
                collector.add(error: error)
            }
        }
        let (_, inserted, errors) = collector.snapshot
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(Set(inserted).count == 4)
        #expect(try db.open().jobList(JobListParams()).count == 4)
    }

    @Test func reservedIDBlocksDoNotOverlapAcrossStores() throws {
        let db = try TempDatabase()
        let stores = [try db.open(), try db.open()]
        let collector = Collector()
        onThreads(4) { i in
            do {
                for _ in 0..<25 {
                    let r = try stores[i % 2].jobReserveIDs(count: 10)
                    collector.add(claimed: Array(r))
                    collector.add(inserted: [try stores[i % 2].jobInsert(job()).id])
                }
            } catch {
                collector.add(error: error)
            }
        }
        let (reserved, inserted, errors) = collector.snapshot
        #expect(errors.isEmpty, "\(errors.prefix(3))")
        #expect(reserved.count == 1000 && Set(reserved).count == 1000)
        #expect(Set(inserted).count == 100)
        #expect(Set(reserved).isDisjoint(with: Set(inserted)))
    }
}
