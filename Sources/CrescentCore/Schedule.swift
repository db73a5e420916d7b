import Foundation

/// A parsed `schedule` (SPEC §3). Placeholder API: the scheduling work fills in
/// cron, macros, intervals and one-time schedules behind this same surface.
public struct Schedule: Sendable, Equatable {
    public let text: String

    /// Parses a schedule string; a bad one throws an error naming the field and why.
    public static func parse(_ text: String) throws(CrescentError) -> Schedule {
        Schedule(text: text)
    }

    /// The first occurrence strictly after `date`, evaluated in `timeZone`; nil if none.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        nil
    }
}
