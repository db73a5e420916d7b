import Foundation

/// A parsed cron expression: 5 fields (`min hour dom month dow`) or 6
/// (`sec min hour dom month dow`), as bit sets over each field's values.
///
/// Matching works on *local wall-clock seconds*: seconds since 1970-01-01 00:00 of the
/// schedule's time zone, counted as if every day had 86 400 seconds. Mapping those to real
/// instants (and daylight saving) is `CronDaylightSaving.swift`'s job.
struct CronExpression: Sendable, Equatable {
    /// Bit n set = value n allowed.
    var seconds: UInt64
    var minutes: UInt64
    var hours: UInt64
    var daysOfMonth: UInt64     // bits 1...31
    var months: UInt64          // bits 1...12
    var daysOfWeek: UInt64      // bits 0...6, Sunday = 0 (7 is folded into 0)
    /// The day-of-month field starts with `*` (Vixie cron / cronie `DOM_STAR`).
    var domStar: Bool
    /// The day-of-week field starts with `*` (`DOW_STAR`).
    var dowStar: Bool
    /// The minute or hour field starts with `*`: across daylight-saving changes the schedule
    /// fires by the wall clock (both passes of a repeated hour, nothing for a skipped one),
    /// as cronie treats its "wildcard" jobs. Other schedules fire once per local time.
    var followsClock: Bool
    /// False when no date can ever match (e.g. `0 0 30 2 *`).
    var canFire: Bool

    struct FieldSpec {
        let name: String
        let low: Int
        let high: Int
        let names: [String]     // index 0 = value `low` when non-empty
    }

    static let secondField = FieldSpec(name: "second", low: 0, high: 59, names: [])
    static let minuteField = FieldSpec(name: "minute", low: 0, high: 59, names: [])
    static let hourField = FieldSpec(name: "hour", low: 0, high: 23, names: [])
    static let domField = FieldSpec(name: "day-of-month", low: 1, high: 31, names: [])
    static let monthField = FieldSpec(
        name: "month", low: 1, high: 12,
        names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
    static let dowField = FieldSpec(
        name: "day-of-week", low: 0, high: 7,
        names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"])

    /// Longest month length per month (February counts its leap day).
    static let maxDaysInMonth = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

    // MARK: parsing

    static func parse(_ text: String) throws(CrescentError) -> CronExpression {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw .usage("cron needs 5 or 6 fields, got \(fields.count) in \"\(text)\" (use \"min hour day-of-month month day-of-week\", optionally with seconds first)")
        }
        let f = fields.count == 6 ? fields : ["0"] + fields
        let seconds = try parseField(f[0], secondField, in: text)
        let minutes = try parseField(f[1], minuteField, in: text)
        let hours = try parseField(f[2], hourField, in: text)
        let doms = try parseField(f[3], domField, in: text)
        let months = try parseField(f[4], monthField, in: text)
        var dows = try parseField(f[5], dowField, in: text)
        if dows & (1 << 7) != 0 { dows = (dows | 1) & ~(UInt64(1) << 7) }

        var expr = CronExpression(
            seconds: seconds, minutes: minutes, hours: hours, daysOfMonth: doms, months: months,
            daysOfWeek: dows, domStar: f[3].hasPrefix("*"), dowStar: f[5].hasPrefix("*"),
            followsClock: f[1].hasPrefix("*") || f[2].hasPrefix("*"), canFire: true)
        expr.canFire = expr.computeCanFire()
        return expr
    }

    /// Whether some date matches at all. With OR-ed day fields any week has a match; with
    /// AND-ed ones a (month, day) pair must exist — each such pair, February 29 included,
    /// falls on every weekday within a 400-year Gregorian cycle.
    private func computeCanFire() -> Bool {
        if !(domStar || dowStar) { return true }
        for m in 1...12 where months & (1 << UInt64(m)) != 0 {
            let lowestDay = daysOfMonth.trailingZeroBitCount
            if lowestDay <= CronExpression.maxDaysInMonth[m] { return true }
        }
        return false
    }

    private static func parseField(_ field: String, _ spec: FieldSpec, in text: String) throws(CrescentError) -> UInt64 {
        var bits: UInt64 = 0
        let items = field.split(separator: ",", omittingEmptySubsequences: false)
        for item in items {
            guard !item.isEmpty else {
                throw .usage("cron field \"\(spec.name)\" has an empty list item in \"\(text)\"")
            }
            bits |= try parseItem(String(item), spec, in: text)
        }
        return bits
    }

    private static func parseItem(_ item: String, _ spec: FieldSpec, in text: String) throws(CrescentError) -> UInt64 {
        var base = Substring(item)
        var step = 1
        var hasStep = false
        if let slash = item.firstIndex(of: "/") {
            base = item[item.startIndex..<slash]
            let stepText = item[item.index(after: slash)...]
            guard !stepText.isEmpty, stepText.allSatisfy({ $0.isASCII && $0.isNumber }), let s = Int(stepText) else {
                throw .usage("cron field \"\(spec.name)\" step \"\(stepText)\" is not a number in \"\(text)\"")
            }
            guard s >= 1 else {
                throw .usage("cron field \"\(spec.name)\" step 0 is not allowed (use 1 or more) in \"\(text)\"")
            }
            step = s
            hasStep = true
        }
        let lo: Int
        let hi: Int
        if base == "*" {
            lo = spec.low
            hi = spec.high
        } else if let dash = base.firstIndex(of: "-") {
            let a = base[base.startIndex..<dash]
            let b = base[base.index(after: dash)...]
            lo = try value(a, spec, in: text)
            hi = try value(b, spec, in: text)
            guard lo <= hi else {
                throw .usage("cron field \"\(spec.name)\" range \(a)-\(b) goes backwards in \"\(text)\"")
            }
        } else {
            lo = try value(base, spec, in: text)
            // `5/15` means `5-<last>/15`, as in cronie.
            hi = hasStep ? spec.high : lo
        }
        var bits: UInt64 = 0
        var v = lo
        while v <= hi {
            bits |= 1 << UInt64(v)
            v += step
        }
        return bits
    }

    private static func value(_ token: Substring, _ spec: FieldSpec, in text: String) throws(CrescentError) -> Int {
        guard !token.isEmpty else {
            throw .usage("cron field \"\(spec.name)\" has a missing value in \"\(text)\"")
        }
        if token.allSatisfy({ $0.isASCII && $0.isNumber }) {
            guard token.count <= 4, let n = Int(token), n >= spec.low, n <= spec.high else {
                throw .usage("cron field \"\(spec.name)\" value \(token) is out of range \(spec.low)-\(spec.high) in \"\(text)\"")
            }
            return n
        }
        if !spec.names.isEmpty, let i = spec.names.firstIndex(of: token.uppercased()) {
            return spec.low + i
        }
        let expected: String
        switch spec.name {
        case "month": expected = "a number 1-12 or a month name JAN-DEC"
        case "day-of-week": expected = "a number 0-7 or a day name SUN-SAT"
        default: expected = "a number \(spec.low)-\(spec.high)"
        }
        throw .usage("cron field \"\(spec.name)\" value \"\(token)\" is not \(expected) in \"\(text)\"")
    }

    // MARK: matching on local wall-clock seconds

    @inline(__always)
    static func firstBit(_ bits: UInt64, atOrAbove n: Int) -> Int? {
        guard n < 64 else { return nil }
        let masked = n <= 0 ? bits : bits & (~UInt64(0) << UInt64(n))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }

    /// Whether day `day` (days since 1970-01-01) with civil date (`month`, `dom`) matches the
    /// day fields: both must match when either field starts with `*`, else either suffices.
    @inline(__always)
    func dayMatches(day: Int64, month: Int, dom: Int) -> Bool {
        let domOK = daysOfMonth & (1 << UInt64(dom)) != 0
        let weekday = Int(((day % 7) + 7 + 4) % 7)     // 1970-01-01 was a Thursday
        let dowOK = daysOfWeek & (1 << UInt64(weekday)) != 0
        return (domStar || dowStar) ? (domOK && dowOK) : (domOK || dowOK)
    }

    /// The first matching second of a day at or after second-of-day `sod`, or nil.
    func firstTime(atOrAfter sod: Int) -> Int? {
        let h = sod / 3600, m = sod / 60 % 60, s = sod % 60
        let firstMinute = minutes.trailingZeroBitCount
        let firstSecond = seconds.trailingZeroBitCount
        guard let hh = CronExpression.firstBit(hours, atOrAbove: h) else { return nil }
        if hh > h { return hh * 3600 + firstMinute * 60 + firstSecond }
        if let mm = CronExpression.firstBit(minutes, atOrAbove: m) {
            if mm > m { return hh * 3600 + mm * 60 + firstSecond }
            if let ss = CronExpression.firstBit(seconds, atOrAbove: s) { return hh * 3600 + mm * 60 + ss }
            if let mm2 = CronExpression.firstBit(minutes, atOrAbove: m + 1) { return hh * 3600 + mm2 * 60 + firstSecond }
        }
        guard let hh2 = CronExpression.firstBit(hours, atOrAbove: h + 1) else { return nil }
        return hh2 * 3600 + firstMinute * 60 + firstSecond
    }

    /// The first matching local wall-clock second in `[from, through]`, or nil.
    func nextLocal(from: Int64, through: Int64) -> Int64? {
        guard canFire, from <= through else { return nil }
        var day = CronCalendar.floorDiv(from, 86400)
        var sod = Int(from - day * 86400)
        while day * 86400 <= through {
            let (y, m, d) = TimeText.civil(fromDays: day)
            if months & (1 << UInt64(m)) == 0 {
                // Skip to the first day of the next allowed month.
                var ny = y, nm = m + 1
                while true {
                    if nm > 12 { nm = 1; ny += 1 }
                    if months & (1 << UInt64(nm)) != 0 { break }
                    nm += 1
                }
                day = CronCalendar.days(year: ny, month: nm, day: 1)
                sod = 0
                continue
            }
            if !dayMatches(day: day, month: m, dom: d) {
                if dowStar && !domStar {
                    // AND mode with a restricted day-of-month: jump to its next value, or
                    // to the next month.
                    let monthLength = CronCalendar.daysInMonth(year: y, month: m)
                    if let nd = CronExpression.firstBit(daysOfMonth, atOrAbove: d + 1), nd <= monthLength {
                        day += Int64(nd - d)
                    } else {
                        day += Int64(monthLength - d + 1)
                    }
                } else {
                    day += 1
                }
                sod = 0
                continue
            }
            if let t = firstTime(atOrAfter: sod) {
                let w = day * 86400 + Int64(t)
                return w <= through ? w : nil
            }
            day += 1
            sod = 0
        }
        return nil
    }
}

/// Proleptic Gregorian calendar arithmetic on days since 1970-01-01.
enum CronCalendar {
    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`).
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        month == 2 ? (isLeap(year) ? 29 : 28) : CronExpression.maxDaysInMonth[month]
    }
}
