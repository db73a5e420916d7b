import CrescentCore
import Foundation
import Testing

/// libfaketime (Debian's `faketime`) for a runner whose wall clock is stepped while it runs:
/// the offset is read from a file on every call, and the monotonic clock is left alone, as a
/// real clock step (NTP, an operator) leaves it.
final class FakeClock: @unchecked Sendable {
    static let wrapper = "/usr/bin/faketime"

    /// Whether `faketime` is here (installed with apt-get when missing, as `make deps` does).
    static let available: Bool = {
        if FileManager.default.isExecutableFile(atPath: wrapper) { return true }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/apt-get")
        p.arguments = ["install", "-y", "-q", "faketime"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run(); p.waitUntilExit() } catch { return false }
        return FileManager.default.isExecutableFile(atPath: wrapper)
    }()

    let file: URL

    init(_ project: Project, name: String) throws {
        file = project.dir.appendingPathComponent("\(name).faketime")
        try set("+0")
    }

    /// Steps this clock to `offset` from the real time, e.g. "+1h" or "-1h".
    func set(_ offset: String) throws {
        try offset.write(to: file, atomically: true, encoding: .utf8)
    }

    /// Starts `crescent ARGS --config …` in the project on this clock.
    func start(_ project: Project, _ args: [String]) throws -> Background {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.wrapper)
        // The wrapper sets up libfaketime; `env` then trades its fixed offset for the file.
        p.arguments = ["-f", "+0", "env", "-u", "FAKETIME", "FAKETIME_TIMESTAMP_FILE=\(file.path)", "FAKETIME_NO_CACHE=1",
                       "FAKETIME_DONT_FAKE_MONOTONIC=1", Project.binary.path]
            + args + ["--config", project.dir.appendingPathComponent("crescent.toml").path]
        p.currentDirectoryURL = project.dir
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return Background(process: p, out: out, err: err)
    }

    /// The runner under the wrapper (which passes no signal on).
    static func child(of wrapper: Background) -> Int32? {
        let pid = wrapper.pid
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.flatMap { Int32($0) }
    }

    /// SIGINT to the runner (a graceful stop); waits up to `timeout`, then SIGKILL. Answers the
    /// wrapper's exit code (the runner's).
    static func interrupt(_ wrapper: Background, timeout: Double = 30) -> Int32 {
        guard let child = child(of: wrapper) else { return wrapper.interrupt(timeout: timeout) }
        kill(child, SIGINT)
        let deadline = Date().addingTimeInterval(timeout)
        while wrapper.process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if wrapper.process.isRunning { kill(child, SIGKILL) }
        wrapper.process.waitUntilExit()
        return wrapper.process.terminationStatus
    }
}

/// Wall clocks stepped by an hour while runners run (issue 19, item 2): leases are kept on
/// each process's monotonic clock, so a step forward takes nobody's jobs and a step back does
/// not keep a killed runner's jobs from being rescued.
@Suite(.serialized, .enabled(if: FakeClock.available, "faketime is not installed and apt-get could not install it"))
struct ClockStepTests {
    let lease = LeaseTests()

    /// The faked binary really sees the shifted time.
    func checkFaked(_ p: Project) throws {
        let clock = try FakeClock(p, name: "check")
        try clock.set("+2h")
        let next = try clock.start(p, ["next", "* * * * *", "--count", "1"])
        next.process.waitUntilExit()
        let printed = next.out.text().trimmingCharacters(in: .whitespacesAndNewlines)
        let at = try TimeText.parse(printed)
        let ahead = at.timeIntervalSinceNow
        #expect(ahead > 7200 - 120 && ahead < 7200 + 120, "the faked binary is 2 h ahead: \(printed)")
    }

    /// Runner A runs four jobs; runner B's clock is stepped forward an hour: A's heartbeats
    /// look an hour old to B's wall clock, and yet B takes none of A's jobs.
    @Test func clockSteppedForwardTakesNoJobs() throws {
        let p = try Project(config: LeaseTests.config(), tasks: ["sleeper.lua": LeaseTests.sleeper(8)])
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        try checkFaked(p)
        let ids = try lease.enqueue(p, 4)
        let a = try Background(p, ["run"])
        #expect(waitFor(timeout: 30) { lease.runningBy(p, a.pid) == 4 }, "A runs the four jobs")
        let clock = try FakeClock(p, name: "b")
        let b = try clock.start(p, ["run", "--queues", "other"])
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM processes") == 2 })
        try clock.set("+1h")
        let now = Date().timeIntervalSince1970
        #expect(waitFor(timeout: 10) { p.sqlInt("SELECT count(*) FROM processes WHERE heartbeat_at > \(now + 3000)") == 1 },
                "B heart-beats an hour ahead")

        let done = waitFor(timeout: 60, every: 0.1) { lease.allSucceeded(p, ids.count) }
        #expect(a.interrupt() == 0)
        #expect(FakeClock.interrupt(b) == 0)
        let bLog = b.err.text()
        let facts = lease.runFacts(p)
        print("clock +1 h: \(facts.runs) runs of 4 jobs, overlapping \(facts.overlaps), worker lost \(facts.lost)")
        #expect(done)
        #expect(facts.overlaps == 0)
        #expect(facts.lost == 0)
        #expect(facts.runs == 4)
        #expect(!bLog.contains("rescued jobs"), "\(bLog.suffix(1500))")
    }

    /// Runner A runs four jobs and is killed (`kill -9`); runner B's clock was stepped back an
    /// hour first. B still rescues A's jobs within a few leases, and runs them again.
    @Test func clockSteppedBackStillRescuesAKilledRunner() throws {
        let p = try Project(config: LeaseTests.config(), tasks: ["sleeper.lua": LeaseTests.sleeper(60)])
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        let ids = try lease.enqueue(p, 4)
        let a = try Background(p, ["run"])
        #expect(waitFor(timeout: 30) { lease.runningBy(p, a.pid) == 4 }, "A runs the four jobs")
        let clock = try FakeClock(p, name: "b")
        let b = try clock.start(p, ["run"])
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM processes") == 2 })
        try clock.set("-1h")
        let now = Date().timeIntervalSince1970
        #expect(waitFor(timeout: 10) { p.sqlInt("SELECT count(*) FROM processes WHERE heartbeat_at < \(now - 3000)") == 1 },
                "B heart-beats an hour behind")
        a.kill9()

        let rescued = waitFor(timeout: 30, every: 0.1) { lease.allSucceeded(p, ids.count) }
        #expect(FakeClock.interrupt(b) == 0)
        let bLog = b.err.text()
        let facts = lease.runFacts(p)
        print("clock -1 h, A killed: \(facts.runs) runs of 4 jobs, overlapping \(facts.overlaps), worker lost \(facts.lost)")
        #expect(rescued, "B rescued and ran A's jobs: \(bLog.suffix(1500))")
        #expect(facts.lost == 4)
        #expect(facts.runs == 8)
        #expect(facts.overlaps == 0)
        #expect(bLog.contains("rescued jobs"))
    }
}
