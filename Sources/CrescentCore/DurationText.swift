import Foundation

/// Durations as users write them: `"250ms"`, `"30s"`, `"5m"`, `"6h"`, `"1d"`, `"1h30m"`,
/// or a plain number of seconds.
public enum DurationText {
    static let units: [(String, Double)] = [
        ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400), ("w", 604800),
    ]

    /// Parses a duration string into seconds. Throws a sentence saying what is wrong.
    public static func parse(_ text: String) throws(CrescentError) -> Double {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        if s.isEmpty { throw .usage("a duration cannot be empty (use e.g. \"30s\", \"5m\", \"1h\")") }
        if let plain = Double(s) {
            guard plain.isFinite, plain >= 0 else { throw .usage("duration \"\(text)\" must be a non-negative number of seconds") }
            return plain
        }
        if s.hasPrefix("-") { throw .usage("duration \"\(text)\" must not be negative") }
        var total = 0.0
        var rest = Substring(s)
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex(where: { !($0.isNumber || $0 == ".") }) ?? rest.endIndex
            guard numberEnd != rest.startIndex, let value = Double(rest[rest.startIndex..<numberEnd]) else {
                throw .usage("duration \"\(text)\" is not valid (use e.g. \"250ms\", \"30s\", \"5m\", \"6h\", \"1d\")")
            }
            rest = rest[numberEnd...]
            let unitEnd = rest.firstIndex(where: { $0.isNumber || $0 == "." }) ?? rest.endIndex
            let unit = String(rest[rest.startIndex..<unitEnd])
            guard let factor = units.first(where: { $0.0 == unit })?.1 else {
                throw .usage("duration \"\(text)\" has an unknown unit \"\(unit)\" (use ms, s, m, h, d or w)")
            }
            total += value * factor
            rest = rest[unitEnd...]
        }
        guard total.isFinite else { throw .usage("duration \"\(text)\" is too long") }
        return total
    }

    /// Formats seconds compactly, to the millisecond: `90` → `"1m30s"`, `0.25` → `"250ms"`,
    /// `1.5` → `"1s500ms"`. The result parses back to the same value; negative values get a
    /// leading `-` (display only).
    public static func format(_ seconds: Double) -> String {
        if seconds.isNaN { return "0s" }
        if seconds.isInfinite { return seconds > 0 ? "inf" : "-inf" }
        guard abs(seconds) < 1e15 else { return "\(seconds)s" }
        if seconds < 0 { return "-" + format(-seconds) }
        var rest = Int64((seconds * 1000).rounded())
        if rest == 0 { return "0s" }
        var out = ""
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}

/// Times as users write them: ISO 8601 (`2026-11-23T08:00:00Z`, fractional seconds and
/// offsets allowed) or epoch seconds. Output is always UTC with milliseconds.
public enum TimeText {
    public static func parse(_ text: String) throws(CrescentError) -> Date {
        let s = text.trimmingCharacters(in: .whitespaces)
        if let epoch = Double(s), epoch.isFinite {
            return try InputRange.time(epoch: epoch, "\"\(text)\"")
        }
        if let d = iso8601(s) { return try InputRange.time(epoch: d.timeIntervalSince1970, "\"\(text)\"") }
        if let digits = s.split(separator: "-", maxSplits: 1).first, digits.allSatisfy(\.isNumber), digits.count > 4 || Int(digits) == 0 {
            throw InputRange.outOfRange("\"\(text)\"")
        }
        throw .usage("time \"\(text)\" is not ISO 8601 (e.g. 2026-11-23T08:00:00Z) or epoch seconds")
    }

    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z as epoch seconds.
    public static let minEpoch: Double = -62_135_596_800
    public static let maxEpoch: Double = 253_402_300_799

    /// ISO 8601 with a real calendar date and clock time: `2026-02-30` and `25:00` are refused
    /// rather than rolled over, and only four-digit years are read.
    static func iso8601(_ s: String) -> Date? {
        guard fieldsAreValid(s) else { return nil }
        var strategy = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        if let d = try? strategy.parse(s) { return d }
        strategy = Date.ISO8601FormatStyle()
        return try? strategy.parse(s)
    }

    /// `YYYY-MM-DD` (then optionally `Thh:mm[:ss]`) with month, day, hour, minute and second in range.
    static func fieldsAreValid(_ s: String) -> Bool {
        let b = Array(s.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var n = 0
            for c in b[from..<from + count] { guard c >= 48 && c <= 57 else { return nil }; n = n * 10 + Int(c - 48) }
            return n
        }
        guard b.count >= 10, let y = number(0, 4), b[4] == 45, let m = number(5, 2), b[7] == 45, let d = number(8, 2),
              (1...9999).contains(y), (1...12).contains(m) else { return false }
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
        let length = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        guard (1...length).contains(d) else { return false }
        if b.count > 10, b[10] == 84 || b[10] == 116 || b[10] == 32 {
            guard let hh = number(11, 2), hh < 24, let mm = number(14, 2), mm < 60 else { return false }
            if b.count > 16, b[16] == 58 { guard let ss = number(17, 2), ss < 60 else { return false } }
        }
        return true
    }

    /// `2026-11-23T08:00:00.000Z`
    public static func format(_ date: Date) -> String {
        let t = date.timeIntervalSince1970.isNaN ? 0 : min(max(date.timeIntervalSince1970, minEpoch), maxEpoch + 0.999)
        // Whole microseconds first, so -0.001 is not taken for -0.0010000000000000002.
        let micros = Int64((t * 1_000_000).rounded())
        let ms = micros >= 0 ? micros / 1000 : -((-micros + 999) / 1000)     // floor division
        var secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000)
        let millis = Int(ms - secs * 1000)
        var days = secs / 86400
        secs -= days * 86400
        if secs < 0 { secs += 86400; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        let hh = Int(secs / 3600), mm = Int(secs % 3600 / 60), ss = Int(secs % 60)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, hh, mm, ss, millis)
    }

    /// Days since 1970-01-01 → proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(fromDays z0: Int64) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (Int(m <= 2 ? y + 1 : y), Int(m), Int(d))
    }
}
