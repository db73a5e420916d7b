import Foundation

/// The one range check for numbers that come from a request, the command line or a handler:
/// every edge (HTTP API and dashboard, CLI, Lua `queue.push`, task files) uses these, so a
/// value is accepted or refused the same way, with the same sentence, wherever it enters.
public enum InputRange {
    /// Job priorities.
    public static let priorities: ClosedRange<Int> = -1_000_000_000...1_000_000_000
    /// Paging offsets of job listings.
    public static let offsets: ClosedRange<Int> = 0...1_000_000_000

    /// `value` when it is a valid priority; otherwise `what 5000000000 is out of range (…)`.
    public static func priority(_ value: Int64, _ what: String = "priority") throws(CrescentError) -> Int {
        guard let v = Int(exactly: value), priorities.contains(v) else {
            throw .usage("\(what) \(value) is out of range (\(priorities.lowerBound) to \(priorities.upperBound))")
        }
        return v
    }

    /// A time given as epoch seconds, refused outside years 1 to 9999 (NaN and infinities too).
    public static func time(epoch: Double, _ shown: String? = nil) throws(CrescentError) -> Date {
        guard epoch.isFinite, epoch >= TimeText.minEpoch, epoch <= TimeText.maxEpoch else {
            throw outOfRange(shown ?? (epoch.isNaN ? "NaN" : "\(epoch)"))
        }
        return Date(timeIntervalSince1970: epoch)
    }

    /// `now + seconds`, refused when the result falls outside years 1 to 9999.
    public static func time(after seconds: Double, from now: Date = Date()) throws(CrescentError) -> Date {
        guard seconds.isFinite else { throw outOfRange("now + \(seconds)s") }
        return try time(epoch: now.timeIntervalSince1970 + seconds, "now + \(DurationText.format(seconds))")
    }

    /// The one sentence for a time outside the supported years.
    public static func outOfRange(_ shown: String) -> CrescentError {
        .usage("time \(shown) is out of range (years 1 to 9999)")
    }
}
