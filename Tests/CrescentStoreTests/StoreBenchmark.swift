import CrescentCore
import CrescentStore
import Foundation
import Testing

/// Throughput of the hot path (insert, claim, complete) on one store. Prints numbers and
/// asserts only correctness; timings never decide pass or fail. Runs only when
/// `CRESCENT_STORE_BENCH` is set (e.g. `CRESCENT_STORE_BENCH=50000 swift test --filter StoreBenchmark`).
@Suite("Store benchmark")
struct StoreBenchmark {
    static let count = Int(ProcessInfo.processInfo.environment["CRESCENT_STORE_BENCH"] ?? "") ?? 0

    @Test(.enabled(if: count > 0)) func insertClaimComplete() throws {
        let n = Self.count
        try withStore { store in
            var start = Date()
            var batch: [JobInsertParams] = []
            for i in 0..<n {
                batch.append(job("bench", args: #"{"i":\#(i)}"#))
                if batch.count == 1000 { _ = try store.jobInsertMany(batch); batch.removeAll(keepingCapacity: true) }
            }
            if !batch.isEmpty { _ = try store.jobInsertMany(batch) }
            let insertRate = Double(n) / Date().timeIntervalSince(start)

            start = Date()
            var done = 0
            while true {
                let jobs = try store.jobClaim(JobClaimParams(queue: "default", limit: 500, worker: "bench"))
                if jobs.isEmpty { break }
                let applied = try store.jobCompleteMany(jobs.map {
                    JobCompletion(jobID: $0.id, attempt: $0.attempt, worker: "bench", outcome: .succeeded(result: "null"))
                })
                done += applied.filter { $0 }.count
            }
            let cycleRate = Double(done) / Date().timeIntervalSince(start)
            print("store bench: \(n) jobs; insert \(Int(insertRate))/s; claim+complete \(Int(cycleRate))/s")
            #expect(done == n)

            start = Date()
            for i in 0..<min(n, 5000) { _ = try store.jobInsert(job("single", args: #"{"i":\#(i)}"#)) }
            print("store bench: single-row inserts \(Int(Double(min(n, 5000)) / Date().timeIntervalSince(start)))/s")
        }
    }
}
