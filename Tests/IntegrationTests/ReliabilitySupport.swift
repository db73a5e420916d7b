import CrescentCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `crescent run` (or other long-running command) started in the background, its output
/// drained so it never blocks on a full pipe.
final class Background: @unchecked Sendable {
    let process: Process
    let out: ReadAll
    let err: ReadAll

    convenience init(_ project: Project, _ args: [String]) throws {
        let (p, o, e) = try project.start(args)
        self.init(process: p, out: o, err: e)
    }

    /// A process already started with these pipes.
    init(process: Process, out: Pipe, err: Pipe) {
        self.process = process
        self.out = ReadAll(out)
        self.err = ReadAll(err)
    }

    var pid: Int32 { process.processIdentifier }

    /// SIGKILL: no chance to clean up, as in a crash.
    func kill9() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    /// First SIGINT (graceful stop); waits up to `timeout`, then SIGKILL.
    @discardableResult
    func interrupt(timeout: Double = 30) -> Int32 {
        process.interrupt()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill9() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Exited by itself (not by a signal).
    var exitedNormally: Bool { !process.isRunning && process.terminationReason == .exit }
}

extension Project {
    var databasePath: String { dir.appendingPathComponent("jobs.db").path }

    /// Runs one query through the `sqlite3` shell on the project's database (a reader in
    /// WAL mode, so it never disturbs the runners) and returns its rows, `|`-separated.
    /// `sql(_:)` (StoreSupport.swift) picks this or `psql` by the store under test.
    func sqliteRows(_ query: String) -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        p.arguments = ["-cmd", ".timeout 10000", databasePath, query]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let o = ReadAll(out), e = ReadAll(err)
        do { try p.run() } catch { return [] }
        p.waitUntilExit()
        let text = o.text()
        let errors = e.text()
        if !errors.isEmpty { print("sqlite3: \(errors)") }
        return text.split(separator: "\n").map(String.init)
    }

    /// A single integer answer (0 when the query answers nothing).
    func sqlInt(_ query: String) -> Int {
        sql(query).first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
    }

    func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }
}

/// Polls `condition` every `every` seconds until it holds or `timeout` passes; answers
/// whether it held. Outcome depends on the condition, not on how long it took.
@discardableResult
func waitFor(timeout: Double, every: Double = 0.05, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        Thread.sleep(forTimeInterval: every)
    }
    return condition()
}

/// Words that must never reach a user: SQLite's lock errors are absorbed by the store.
func mentionsLockErrors(_ text: String) -> Bool {
    let t = text.lowercased()
    return t.contains("database is locked") || t.contains("sqlite_busy") || t.contains("stayed locked") || t.contains("database table is locked")
}
