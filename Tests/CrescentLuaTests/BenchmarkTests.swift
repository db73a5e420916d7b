import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// Throughput of one worker; runs only with CRESCENT_BENCH=1 and asserts nothing about time.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["CRESCENT_BENCH"] == "1"))
struct BenchmarkTests {
    @Test(arguments: [("trivial", "return job.args.n"), ("sleep", "sleep(0) return job.args.n")])
    func jobsPerSecond(name: String, body: String) throws {
        let fx = try Fixture(["t.lua": task(body)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let n = 50_000
        let results = Results()
        let start = Date()
        for i in 1...n {
            worker.submit(ExecRequest(job: makeJob(Int64(i), task: "t", args: "{\"n\":\(i)}"), ttl: 60), completion: results.completion)
        }
        #expect(results.wait(for: n, timeout: 120))
        let seconds = Date().timeIntervalSince(start)
        print("lua worker \(name): \(n) jobs in \(String(format: "%.2f", seconds)) s = \(Int(Double(n) / seconds)) jobs/s, \(worker.pendingTimers) timers left")
        #expect(results[Int64(n)]?.outcome == .succeeded(result: "\(n)"))
    }
}
