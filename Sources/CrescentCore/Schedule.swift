import Foundation

/// A parsed `schedule` (SPEC §3): cron, a macro, an interval or a one-time instant.
///
/// - **cron**: 5 fields (`min hour dom month dow`) or 6 (`sec min hour dom month dow`) with
///   `*`, lists, ranges, steps (`*/5`, `1-30/2`, `5/15` = `5-59/15`), month names `JAN`–`DEC`
///   and day names `SUN`–`SAT` (any case); day-of-week 0–7, 0 and 7 both Sunday. When both
///   day fields are restricted either may match; a day field starting with `*` (`*/2` too)
///   makes both required, as in Vixie cron and cronie. Evaluated in local time of the
///   given zone; daylight saving as cronie does it (see `CronZoneWalk`).
/// - **macros**: `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`),
///   `@hourly` are the usual cron lines; `@every DURATION` is an interval.
/// - **intervals**: `every 6 hours`, `every 30s`, `every 5 minutes`, `every minute`,
///   `every 1h30m`. Intervals are anchored at the Unix epoch: occurrences are the exact
///   multiples of the interval since 1970-01-01T00:00:00Z (so `every 6 hours` fires at
///   00:00, 06:00, 12:00 and 18:00 UTC), independent of time zone and of when the runner
///   started. An interval must be at least one second.
/// - **one time**: `at 2026-12-24T18:00:00Z` (ISO 8601 or epoch seconds): a single
///   occurrence at that instant.
public struct Schedule: Sendable, Equatable {
    public let text: String
    let kind: Kind

    enum Kind: Sendable, Equatable {
        case cron(CronExpression)
        /// Interval length in milliseconds.
        case interval(Int64)
        case once(Date)
    }

    /// Parses a schedule string; a bad one throws an error naming the field and why.
    public static func parse(_ text: String) throws(CrescentError) -> Schedule {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw .usage("a schedule cannot be empty (use e.g. \"*/5 * * * *\", \"@daily\", \"every 5 minutes\" or \"at 2026-12-24T18:00:00Z\")")
        }
        let words = trimmed.split(whereSeparator: { $0.isWhitespace }).map(String.init)
        let head = words[0].lowercased()
        let rest = words.dropFirst().joined(separator: " ")

        if head.hasPrefix("@") {
            let line: String
            switch head {
            case "@yearly", "@annually": line = "0 0 1 1 *"
            case "@monthly": line = "0 0 1 * *"
            case "@weekly": line = "0 0 * * 0"
            case "@daily", "@midnight": line = "0 0 * * *"
            case "@hourly": line = "0 * * * *"
            case "@every":
                return Schedule(text: text, kind: .interval(try intervalMillis(rest, in: trimmed)))
            case "@reboot":
                throw .usage("macro \"@reboot\" is not supported (use @yearly, @monthly, @weekly, @daily, @hourly or @every DURATION)")
            default:
                throw .usage("unknown macro \"\(words[0])\" (use @yearly, @monthly, @weekly, @daily, @hourly or @every DURATION)")
            }
            guard rest.isEmpty else {
                throw .usage("macro \"\(words[0])\" takes no arguments, got \"\(rest)\"")
            }
            return Schedule(text: text, kind: .cron(try CronExpression.parse(line)))
        }
        if head == "every" {
            return Schedule(text: text, kind: .interval(try intervalMillis(rest, in: trimmed)))
        }
        if head == "at" {
            guard words.count == 2 else {
                throw .usage("one-time schedule \"\(trimmed)\" needs one time, e.g. \"at 2026-12-24T18:00:00Z\"")
            }
            let date: Date
            do { date = try TimeText.parse(words[1]) } catch {
                throw .usage("one-time schedule \"\(trimmed)\": \(error.message)")
            }
            return Schedule(text: text, kind: .once(date))
        }
        return Schedule(text: text, kind: .cron(try CronExpression.parse(trimmed)))
    }

    static let unitSeconds: [String: Double] = [
        "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
        "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
        "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
        "d": 86400, "day": 86400, "days": 86400,
        "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
    ]

    /// `6 hours`, `minute`, `30s`, `1h30m` → milliseconds.
    static func intervalMillis(_ spec: String, in text: String) throws(CrescentError) -> Int64 {
        let parts = spec.lowercased().split(separator: " ").map(String.init)
        let seconds: Double
        switch parts.count {
        case 0:
            throw .usage("interval \"\(text)\" needs a length, e.g. \"every 5 minutes\" or \"@every 90s\"")
        case 1:
            if let unit = unitSeconds[parts[0]], parts[0].count > 1 {
                seconds = unit
            } else {
                do { seconds = try DurationText.parse(parts[0]) } catch {
                    throw .usage("interval \"\(text)\": \(error.message)")
                }
            }
        case 2:
            guard let n = Double(parts[0]), n.isFinite, n >= 0 else {
                throw .usage("interval \"\(text)\": \"\(parts[0])\" is not a number")
            }
            guard let unit = unitSeconds[parts[1]] else {
                throw .usage("interval \"\(text)\" has an unknown unit \"\(parts[1])\" (use seconds, minutes, hours, days or weeks)")
            }
            seconds = n * unit
        default:
            throw .usage("interval \"\(text)\" is not valid (use e.g. \"every 6 hours\", \"every 30s\" or \"@every 90s\")")
        }
        guard seconds >= 1 else {
            throw .usage("interval \"\(text)\" is shorter than one second")
        }
        guard seconds <= 100 * 365.25 * 86400 else {
            throw .usage("interval \"\(text)\" is longer than 100 years")
        }
        return Int64((seconds * 1000).rounded())
    }

    // MARK: evaluation

    /// The first occurrence strictly after `date`, evaluated in `timeZone`; nil if none.
    ///
    /// Cron occurrences fall on whole seconds. A cron expression that can never match
    /// (`0 0 30 2 *`) returns nil at once; otherwise the search looks up to 100 years ahead.
    /// Intervals and one-time schedules ignore `timeZone`.
    public func next(after date: Date, in timeZone: TimeZone) -> Date? {
        let t = date.timeIntervalSince1970
        // Beyond the years 1–9999 (and far from Int64 overflow) nothing is scheduled.
        guard t.isFinite, t > -62_135_596_800, t < 253_402_300_800 else {
            if case .once(let at) = kind, at > date { return at }
            return nil
        }
        switch kind {
        case .cron(let cron):
            let start = Int64(t.rounded(.down)) + 1
            guard let s = CronZoneWalk(zone: timeZone).next(cron, atOrAfter: start) else { return nil }
            return Date(timeIntervalSince1970: Double(s))
        case .interval(let ms):
            let now = Int64((t * 1000).rounded(.down))
            let k = CronCalendar.floorDiv(now, ms) + 1
            return Date(timeIntervalSince1970: Double(k * ms) / 1000)
        case .once(let at):
            return at > date ? at : nil
        }
    }

    /// The occurrences in `(after, through]`, oldest first, at most `limit` of them.
    public func occurrences(after: Date, through: Date, limit: Int, in timeZone: TimeZone) -> [Date] {
        var out: [Date] = []
        var cursor = after
        while out.count < limit, let n = next(after: cursor, in: timeZone), n <= through {
            out.append(n)
            cursor = n
        }
        return out
    }

    /// How many occurrences lie in `(after, through]`, counting at most `limit`: intervals
    /// by arithmetic, cron lines one by one.
    public func count(after: Date, through: Date, limit: Int, in timeZone: TimeZone) -> Int {
        guard through > after, limit > 0 else { return 0 }
        if case .interval(let ms) = kind {
            let a = after.timeIntervalSince1970, b = through.timeIntervalSince1970
            guard a.isFinite, b.isFinite, abs(a) < 1e13, abs(b) < 1e13 else { return 0 }
            let lo = CronCalendar.floorDiv(Int64((a * 1000).rounded(.down)), ms)
            let hi = CronCalendar.floorDiv(Int64((b * 1000).rounded(.down)), ms)
            return Int(Swift.min(Int64(limit), Swift.max(0, hi - lo)))
        }
        return occurrences(after: after, through: through, limit: limit, in: timeZone).count
    }

    /// The next `count` occurrences after `date`, oldest first (fewer if the schedule ends).
    public func occurrences(after date: Date, count: Int, in timeZone: TimeZone) -> [Date] {
        var out: [Date] = []
        var cursor = date
        while out.count < count, let n = next(after: cursor, in: timeZone) {
            out.append(n)
            cursor = n
        }
        return out
    }

    /// The most recent occurrence in `(after, through]`, or nil if there is none — what a
    /// `missed = "once"` catch-up needs. Takes a logarithmic number of `next` calls, however
    /// many occurrences the span holds.
    public func lastOccurrence(after: Date, through: Date, in timeZone: TimeZone) -> Date? {
        guard var found = next(after: after, in: timeZone), found <= through else { return nil }
        var high = through      // no occurrence lies in (high, through]
        while true {
            guard let n = next(after: found, in: timeZone), n <= high else { return found }
            found = n
            let mid = found.addingTimeInterval(high.timeIntervalSince(found) / 2)
            if let m = next(after: mid, in: timeZone), m <= high {
                found = m
            } else {
                high = mid
            }
        }
    }

    /// The most recent `limit` occurrences in `(after, through]`, oldest first — what a
    /// `missed = "all"` catch-up capped at `limit` jobs needs after a long downtime (the
    /// oldest-first `occurrences(after:through:limit:in:)` would return the stalest ones).
    public func latestOccurrences(after: Date, through: Date, limit: Int, in timeZone: TimeZone) -> [Date] {
        guard limit > 0, let last = lastOccurrence(after: after, through: through, in: timeZone) else { return [] }
        // Widen a window that ends at `through` until it holds `limit` occurrences or
        // reaches `after`.
        var width = Swift.max(1, through.timeIntervalSince(last))
        while true {
            let start = Swift.max(after, last.addingTimeInterval(-width))
            var ring: [Date] = []
            ring.reserveCapacity(Swift.min(limit, 1024))
            var total = 0
            var cursor = start
            while let n = next(after: cursor, in: timeZone), n <= through {
                if ring.count < limit { ring.append(n) } else { ring[total % limit] = n }
                total += 1
                cursor = n
            }
            if total >= limit || start == after {
                guard total > limit else { return ring }
                let oldest = total % limit
                return Array(ring[oldest...] + ring[..<oldest])
            }
            width *= 4
        }
    }

    /// True for `at …` schedules, which fire once.
    public var isOneTime: Bool {
        if case .once = kind { return true }
        return false
    }

    /// True for cron lines and macros other than `@every`: the only schedules whose
    /// occurrences depend on the time zone.
    public var usesTimeZone: Bool {
        if case .cron = kind { return true }
        return false
    }

    /// The interval length in seconds for `every …` and `@every …` schedules, else nil.
    public var intervalSeconds: Double? {
        if case .interval(let ms) = kind { return Double(ms) / 1000 }
        return nil
    }

    /// An IANA time zone by name (`Europe/Berlin`, `UTC`); throws a usage error naming it.
    public static func timeZone(named name: String) throws(CrescentError) -> TimeZone {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        if trimmed.uppercased() == "UTC" || trimmed.uppercased() == "Z" {
            return TimeZone(identifier: "UTC")!
        }
        guard !trimmed.isEmpty, let zone = TimeZone(identifier: trimmed) else {
            throw .usage("unknown time zone \"\(name)\" (use an IANA name such as \"Europe/Berlin\" or \"UTC\")")
        }
        return zone
    }
}
