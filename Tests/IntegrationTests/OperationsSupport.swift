import CrescentCore
import Foundation
import Testing

/// A `crescent run` child process whose stderr is collected while it runs.
final class OpsRunner: @unchecked Sendable {
    let process: Process
    private let lock = NSLock()
    private var errData = Data()
    private let stdoutDrain: ReadAll

    init(_ project: Project, _ args: [String] = []) throws {
        let (p, out, err) = try project.start(["run"] + args)
        process = p
        stdoutDrain = ReadAll(out)
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            if chunk.isEmpty { handle.readabilityHandler = nil; return }
            self.lock.lock()
            self.errData.append(chunk)
            self.lock.unlock()
        }
    }

    deinit {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    var stderr: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: errData, as: UTF8.self)
    }

    /// Every stderr line that parses as a JSON object.
    var jsonLogLines: [JSONValue] {
        stderr.split(separator: "\n").compactMap { line in
            guard let v = try? JSONValue.decode(String(line)), case .object = v else { return nil }
            return v
        }
    }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits up to `timeout` seconds for the process to exit; returns its exit code, or nil if it still runs.
    func waitForExit(_ timeout: Double = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        // Give the stderr reader a moment to take the last lines.
        let drainDeadline = Date().addingTimeInterval(2)
        while Date() < drainDeadline {
            let before = stderr.count
            Thread.sleep(forTimeInterval: 0.05)
            if stderr.count == before { break }
        }
        return process.terminationStatus
    }
}

/// Polls `body` every 50 ms until it returns a value or `timeout` seconds pass.
func opsEventually<T>(_ timeout: Double = 15, _ body: () throws -> T?) rethrows -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let v = try body() { return v }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return try body()
}

extension Project {
    /// `crescent enqueue ARGS --json` → the job id.
    func opsEnqueue(_ task: String, _ extra: [String] = []) throws -> Int64 {
        let r = try run(["enqueue", task, "--json"] + extra)
        #expect(r.code == 0, "enqueue \(task): \(r.stderr)")
        return try #require(r.json?["id"]?.intValue, "enqueue printed \(r.stdout)")
    }

    /// `crescent job ID --json`.
    func opsJob(_ id: Int64) throws -> JSONValue? {
        try run(["job", "\(id)", "--json"]).json
    }

    func opsState(_ id: Int64) throws -> String? {
        try opsJob(id)?["state"]?.stringValue
    }

    /// Waits until job `id` is in `state`; returns the job.
    @discardableResult
    func opsWaitFor(_ id: Int64, _ state: String, timeout: Double = 20) throws -> JSONValue? {
        try opsEventually(timeout) { () -> JSONValue? in
            let j = try opsJob(id)
            return j?["state"]?.stringValue == state ? j : nil
        }
    }
}
