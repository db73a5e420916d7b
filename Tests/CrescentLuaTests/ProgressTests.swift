import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// `job:progress(done, total, note)` in a handler.
@Suite struct ProgressTests {
    final class ProgressHost: LuaHost, @unchecked Sendable {
        let inner = TestHost()
        private let lock = NSLock()
        private var _reports: [(Int64, Int, JobProgress)] = []
        var reports: [(Int64, Int, JobProgress)] { lock.withLock { _reports } }
        func task(named name: String) -> TaskDefinition? { inner.task(named: name) }
        func storeGet(task: String, key: String) throws -> JSONValue? { try inner.storeGet(task: task, key: key) }
        func reserveJobID() throws -> Int64 { try inner.reserveJobID() }
        func findActiveUnique(key: String, period: Double?) throws -> Int64? { try inner.findActiveUnique(key: key, period: period) }
        func reportProgress(jobID: Int64, attempt: Int, progress: JobProgress) { lock.withLock { _reports.append((jobID, attempt, progress)) } }
    }

    func worker(_ files: [String: String]) throws -> (Fixture, LuaWorker, ProgressHost) {
        let fx = try Fixture(files)
        let host = ProgressHost()
        let config = fx.config()
        let worker = try LuaWorker(index: 0, config: config, host: host, logger: .init(label: "t"))
        let errors = worker.install(fx.snapshot())
        #expect(errors.isEmpty, "\(errors)")
        return (fx, worker, host)
    }

    @Test func everyReportGoesToTheHostAndTheLastComesWithTheOutcome() throws {
        let (fx, worker, host) = try worker(["t.lua": task("""
            for i = 1, 5 do job:progress(i * 20, 100, "step " .. i) end
            job:progress(7)
            job:progress(1e308, 1e308)
            job:progress(3, 4, "last")
            error("boom")
            """)])
        defer { worker.shutdown(); withExtendedLifetime(fx) {} }
        let r = run(worker, makeJob(9, task: "t", attempt: 2))
        #expect(failure(r)?.contains("boom") == true)
        #expect(r?.progress?.done == 3 && r?.progress?.total == 4 && r?.progress?.note == "last")
        #expect(host.reports.count == 8)
        #expect(host.reports.allSatisfy { $0.0 == 9 && $0.1 == 2 })
        #expect(host.reports[5].2.total == nil && host.reports[5].2.note == nil)
        #expect(host.reports[6].2.done == 1e308)
        #expect(r?.progress?.percent == 75)
    }

    @Test func badArgumentsAreClearLuaErrors() throws {
        let cases: [(String, String)] = [
            ("job:progress(0/0, 10)", "job:progress: done must be a finite number of at least 0, not"),
            ("job:progress(-1, 10)", "job:progress: done must be a finite number of at least 0, not -1"),
            ("job:progress(math.huge)", "job:progress: done must be a finite number of at least 0, not inf"),
            ("job:progress(1, -math.huge)", "job:progress: total must be a finite number of at least 0, not -inf"),
            ("job:progress(\"5\", 10)", "job:progress: done must be a number, not \"5\""),
            ("job:progress()", "job:progress: done must be a number (job:progress(done, total, note))"),
            ("job:progress(1, {}, \"x\")", "job:progress: total must be a number, not a table"),
            ("job:progress(1, 2, 3)", "job:progress: note must be a string, not 3"),
            ("job:progress(1, 2, string.rep(\"x\", 201))", "job:progress: the note is 201 bytes, more than the 200 a note may hold"),
        ]
        var files: [String: String] = [:]
        for (i, c) in cases.enumerated() { files["t\(i).lua"] = task(c.0) }
        let (fx, worker, host) = try worker(files)
        defer { worker.shutdown(); withExtendedLifetime(fx) {} }
        for (i, c) in cases.enumerated() {
            let message = failure(run(worker, makeJob(Int64(i + 1), task: "t\(i)")))
            #expect(message?.contains(c.1) == true, "\(c.0): \(message ?? "no failure")")
            #expect(message?.hasPrefix("tasks/t\(i).lua:4: ") == true, "\(message ?? "")")
        }
        #expect(host.reports.isEmpty)
    }
}
