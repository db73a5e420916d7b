import CrescentCore
import Foundation
import Logging
import Testing

@testable import CrescentRuntime

/// A loop whose store keeps failing logs when the failures begin, every `repeatEvery` seconds
/// while they last, and when they end — not once per retry.
@Suite struct StoreOutageTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [JSONValue] = []
        func add(_ line: String) { lock.withLock { if let v = try? JSONValue.decode(line) { stored.append(v) } } }
        var all: [JSONValue] { lock.withLock { stored } }
    }

    func logger(_ lines: Lines) -> Logger {
        let sink = LogSink { lines.add($0) }
        return Logger(label: "test") { label in JSONLogHandler(label: label, level: .info, sink: sink) }
    }

    @Test func anOutageIsLoggedWhenItBeginsWhileItLastsAndWhenItEnds() {
        let lines = Lines()
        let log = logger(lines)
        var outage = StoreOutage("claim", repeatEvery: 30)
        let error = CrescentError.failed("database postgres://u:***@db/app: connection lost")
        var logged = outage.succeeded(logger: log, now: 0)
        #expect(!logged, "no outage yet: nothing to log")
        logged = outage.failed(error, logger: log, metadata: ["queues": "default"], now: 100)
        #expect(logged)
        var quiet = 0
        for t in stride(from: 100.5, to: 129.9, by: 0.5) where !outage.failed(error, logger: log, now: t) { quiet += 1 }
        #expect(quiet == 59, "retries within 30 s are not logged")
        logged = outage.failed(error, logger: log, now: 130)
        #expect(logged)
        #expect(outage.isActive)
        logged = outage.succeeded(logger: log, now: 131)
        #expect(logged)
        #expect(!outage.isActive)
        logged = outage.failed(error, logger: log, now: 200)
        #expect(logged, "a new outage is logged at once")

        let msgs = lines.all.map { $0["msg"]?.stringValue ?? "" }
        #expect(msgs == ["claim failed; retrying", "claim still failing; retrying", "claim works again", "claim failed; retrying"])
        let first = lines.all[0]
        #expect(first["level"] == .string("error"))
        #expect(first["error"]?.stringValue?.contains("connection lost") == true)
        #expect(first["queues"] == .string("default"))
        #expect(lines.all[1]["failures"] == .int(61))
        #expect(lines.all[1]["for_s"] == .int(30))
        #expect(lines.all[2]["level"] == .string("info"))
        #expect(lines.all[2]["failures"] == .int(61))
        #expect(lines.all[2]["after_s"] == .int(31))
    }
}
