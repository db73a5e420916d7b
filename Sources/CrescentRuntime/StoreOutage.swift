import Foundation
import Logging

/// One loop's record of a store that keeps failing (a PostgreSQL server gone or restarting, a
/// SQLite file locked or on a full disk). The loop carries on and tries again on its next
/// round; its log says so when the failures begin, again every `repeatEvery` seconds while
/// they last (with how many there were), and once when a call succeeds again — not once per
/// retry, which while a database is down would be several lines a second.
///
/// Used from the one thread that runs its loop.
struct StoreOutage {
    /// What failed, in the log lines: "heartbeat", "claim", "schedule evaluation", ….
    let what: String
    let repeatEvery: Double
    private(set) var since: Double?
    private var lastLogged = 0.0
    private(set) var failures = 0

    init(_ what: String, repeatEvery: Double = 30) {
        self.what = what
        self.repeatEvery = repeatEvery
    }

    var isActive: Bool { since != nil }

    /// A store call failed: logged when the outage begins and every `repeatEvery` seconds.
    /// Returns whether it was logged.
    @discardableResult
    mutating func failed(_ error: any Error, logger: Logger, consequence: String = "retrying",
                         metadata: Logger.Metadata = [:], now: Double = Monotonic.now()) -> Bool {
        failures += 1
        var fields = metadata
        fields["error"] = "\(error)"
        guard let since else {
            self.since = now
            lastLogged = now
            logger.error("\(what) failed; \(consequence)", metadata: fields)
            return true
        }
        guard now - lastLogged >= repeatEvery else { return false }
        lastLogged = now
        fields["failures"] = .stringConvertible(failures)
        fields["for_s"] = .stringConvertible(Int((now - since).rounded()))
        logger.error("\(what) still failing; \(consequence)", metadata: fields)
        return true
    }

    /// A store call succeeded: ends an outage (logged with its length). Returns whether one ended.
    @discardableResult
    mutating func succeeded(logger: Logger, now: Double = Monotonic.now()) -> Bool {
        guard let since else { return false }
        logger.info("\(what) works again", metadata: [
            "failures": .stringConvertible(failures), "after_s": .stringConvertible(Int((now - since).rounded())),
        ])
        self.since = nil
        failures = 0
        return true
    }
}
