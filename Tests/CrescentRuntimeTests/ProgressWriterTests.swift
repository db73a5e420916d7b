import CrescentCore
import CrescentStore
import Foundation
import Logging
import Testing

@testable import CrescentRuntime

/// The runner's throttle for `job:progress`: however often handlers report, each job gets at
/// most one write per flush (once a second in `crescent run`), with its latest value.
@Suite struct ProgressWriterTests {
    @Test func manyReportsBecomeOneWritePerJobWithTheLatestValue() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-progress-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteJobStore(path: folder.appendingPathComponent("jobs.db").path)
        let ids = try store.jobInsertMany((0..<2).map { _ in
            JobInsertParams(task: "t", queue: "default", priority: 0, args: "{}", maxAttempts: 3, runAt: Date())
        }).map(\.id)
        _ = try store.jobClaim(JobClaimParams(queue: "default", limit: 10, worker: "w"))
        let writer = ProgressWriter(store: store, worker: "w", interval: 3600, logger: Logger(label: "t"))
        #expect(writer.flush() == 0)
        for i in 1...1000 {
            writer.report(jobID: ids[0], attempt: 1, progress: JobProgress(done: Double(i), total: 1000))
            if i % 10 == 0 { writer.report(jobID: ids[1], attempt: 1, progress: JobProgress(done: Double(i / 10), total: 100, note: "n\(i)")) }
        }
        #expect(writer.flush() == 2)
        #expect(try store.jobGet(id: ids[0])?.progress?.done == 1000)
        #expect(try store.jobGet(id: ids[1])?.progress?.note == "n1000")
        #expect(writer.flush() == 0, "nothing new, nothing written")
        // A report for an attempt this process does not run is fenced out by the store.
        writer.report(jobID: ids[0], attempt: 2, progress: JobProgress(done: 1, total: 1000))
        #expect(writer.flush() == 1)
        #expect(try store.jobGet(id: ids[0])?.progress?.done == 1000)
        // stop() writes what is pending.
        writer.start()
        writer.report(jobID: ids[1], attempt: 1, progress: JobProgress(done: 100, total: 100, note: "last"))
        writer.stop()
        #expect(try store.jobGet(id: ids[1])?.progress?.note == "last")
    }
}
