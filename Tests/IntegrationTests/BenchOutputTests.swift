import Foundation
import Testing

/// Issue 16 item 6: `crescent bench` prints each line as it is measured and shows progress on a
/// terminal (and only there).
@Suite(.serialized) struct BenchOutputTests {
    @Test func linesArriveAsMeasuredWithoutProgressOnAPipe() throws {
        let p = try Project(config: Project.quietConfig)
        let (process, out, err) = try p.start(["bench", "--jobs", "200", "--latency-jobs", "0", "--process-jobs", "20"], config: false)
        let errText = ReadAll(err)
        let text = Collected()
        out.fileHandleForReading.readabilityHandler = { h in text.append(h.availableData) }
        // The drain line is there while the latency measurement (20 `crescent enqueue` processes) still runs.
        let early = opsEventually(120) { () -> Bool? in
            text.value.contains("drain:") ? process.isRunning : nil
        }
        #expect(early == true, "the drain line came only at the end: \(text.value)")
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        #expect(process.terminationStatus == 0, "\(errText.text())")
        #expect(!errText.text().contains("\u{1B}[K"), "progress on a pipe: \(errText.text().debugDescription)")
    }

    @Test func progressOnATerminal() throws {
        guard let script = Fit.tool("script", package: "bsdutils") else { return }
        let command = "\(Project.binary.path) bench --jobs 2000 --latency-jobs 0 --process-jobs 0"
        let r = try Fit.runTool(script, ["-qec", command, "/dev/null"], timeout: 120)
        #expect(r.code == 0, "\(r.output)")
        #expect(r.output.contains("\r\u{1B}[Kenqueueing 2000 jobs…"), "\(r.output.debugDescription)")
        #expect(r.output.contains("drain:"), "\(r.output)")
    }
}

/// Text appended from a pipe's reader thread.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ chunk: Data) { lock.lock(); data.append(chunk); lock.unlock() }
    var value: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
