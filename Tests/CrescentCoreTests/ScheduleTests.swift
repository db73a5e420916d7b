import Foundation
import Testing
@testable import CrescentCore

/// Helpers shared by the schedule tests.
enum ScheduleTesting {
    static let utc = TimeZone(identifier: "UTC")!
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static let newYork = TimeZone(identifier: "America/New_York")!

    static func date(_ text: String) -> Date {
        do { return try TimeText.parse(text) } catch { fatalError("bad test time \(text): \(error)") }
    }

    /// The next `count` occurrences after `from`, as ISO 8601 UTC strings without milliseconds.
    static func next(_ schedule: String, from: String, count: Int, tz: TimeZone = utc) throws -> [String] {
        let s = try Schedule.parse(schedule)
        return s.occurrences(after: date(from), count: count, in: tz).map(iso)
    }

    static func iso(_ d: Date) -> String {
        String(TimeText.format(d).dropLast(5)) + "Z"   // drop ".000Z"
    }
}

@Suite("Schedule: cron fields")
struct ScheduleCronTests {
    typealias T = ScheduleTesting
    // 2026-01-15 is a Thursday.
    let from = "2026-01-15T10:17:23Z"

    struct Case: Sendable, CustomStringConvertible {
        let expr: String
        let expected: [String]
        var description: String { expr }
    }

    static let cases: [Case] = [
        // steps
        Case(expr: "*/15 * * * *", expected: ["2026-01-15T10:30:00Z", "2026-01-15T10:45:00Z", "2026-01-15T11:00:00Z"]),
        Case(expr: "5/15 * * * *", expected: ["2026-01-15T10:20:00Z", "2026-01-15T10:35:00Z", "2026-01-15T10:50:00Z", "2026-01-15T11:05:00Z"]),
        Case(expr: "1-30/7 3 * * *", expected: ["2026-01-16T03:01:00Z", "2026-01-16T03:08:00Z", "2026-01-16T03:15:00Z", "2026-01-16T03:22:00Z", "2026-01-16T03:29:00Z", "2026-01-17T03:01:00Z"]),
        Case(expr: "0 */8 * * *", expected: ["2026-01-15T16:00:00Z", "2026-01-16T00:00:00Z", "2026-01-16T08:00:00Z"]),
        // lists and ranges
        Case(expr: "0,30 9-10 * * *", expected: ["2026-01-15T10:30:00Z", "2026-01-16T09:00:00Z", "2026-01-16T09:30:00Z", "2026-01-16T10:00:00Z"]),
        // names, any case
        Case(expr: "0 9 * * MON-FRI", expected: ["2026-01-16T09:00:00Z", "2026-01-19T09:00:00Z", "2026-01-20T09:00:00Z"]),
        Case(expr: "0 9 * * sat,Sun", expected: ["2026-01-17T09:00:00Z", "2026-01-18T09:00:00Z", "2026-01-24T09:00:00Z"]),
        Case(expr: "0 0 1 jan,Jul *", expected: ["2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z", "2027-07-01T00:00:00Z"]),
        Case(expr: "0 0 1 MAR-may/2 *", expected: ["2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", "2027-03-01T00:00:00Z"]),
        // day-of-week 0 and 7 are both Sunday
        Case(expr: "0 0 * * 7", expected: ["2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z"]),
        Case(expr: "0 0 * * 0", expected: ["2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z"]),
        Case(expr: "0 0 * * 5-7", expected: ["2026-01-16T00:00:00Z", "2026-01-17T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-23T00:00:00Z"]),
        // day-of-month OR day-of-week when both are restricted
        Case(expr: "0 0 1 * 1", expected: ["2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z"]),
        Case(expr: "0 0 13 * FRI", expected: ["2026-01-16T00:00:00Z", "2026-01-23T00:00:00Z", "2026-01-30T00:00:00Z", "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z"]),
        // ... AND when either starts with `*` (`*/2` too): the 1st on an even weekday
        // (2026-02-01 and 2026-03-01 are Sundays, 2026-08-01 a Saturday).
        Case(expr: "0 0 1 * */2", expected: ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-08-01T00:00:00Z"]),
        Case(expr: "0 0 */2 * MON", expected: ["2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z"]),
        // leap days and month ends
        Case(expr: "0 12 29 2 *", expected: ["2028-02-29T12:00:00Z", "2032-02-29T12:00:00Z"]),
        Case(expr: "0 0 31 * *", expected: ["2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"]),
        Case(expr: "59 23 28-31 2 *", expected: ["2026-02-28T23:59:00Z", "2027-02-28T23:59:00Z", "2028-02-28T23:59:00Z", "2028-02-29T23:59:00Z"]),
        Case(expr: "0 0 30 * *", expected: ["2026-01-30T00:00:00Z", "2026-03-30T00:00:00Z"]),
        // six fields: seconds first
        Case(expr: "*/20 * * * * *", expected: ["2026-01-15T10:17:40Z", "2026-01-15T10:18:00Z", "2026-01-15T10:18:20Z"]),
        Case(expr: "30 0 12 * * *", expected: ["2026-01-15T12:00:30Z", "2026-01-16T12:00:30Z"]),
        // macros
        Case(expr: "@yearly", expected: ["2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"]),
        Case(expr: "@annually", expected: ["2027-01-01T00:00:00Z"]),
        Case(expr: "@monthly", expected: ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]),
        Case(expr: "@weekly", expected: ["2026-01-18T00:00:00Z", "2026-01-25T00:00:00Z"]),
        Case(expr: "@daily", expected: ["2026-01-16T00:00:00Z", "2026-01-17T00:00:00Z"]),
        Case(expr: "@midnight", expected: ["2026-01-16T00:00:00Z"]),
        Case(expr: "@HOURLY", expected: ["2026-01-15T11:00:00Z", "2026-01-15T12:00:00Z"]),
    ]

    @Test("cron table", arguments: cases)
    func table(_ c: Case) throws {
        let got = try T.next(c.expr, from: from, count: c.expected.count)
        #expect(got == c.expected, "\(c.expr)")
    }

    @Test func strictlyAfter() throws {
        let s = try Schedule.parse("0 * * * *")
        #expect(s.next(after: T.date("2026-01-15T10:00:00Z"), in: T.utc) == T.date("2026-01-15T11:00:00Z"))
        #expect(s.next(after: T.date("2026-01-15T09:59:59.999Z"), in: T.utc) == T.date("2026-01-15T10:00:00Z"))
        #expect(s.next(after: T.date("2026-01-15T10:00:00.500Z"), in: T.utc) == T.date("2026-01-15T11:00:00Z"))
        let yearly = try Schedule.parse("@yearly")
        #expect(yearly.next(after: T.date("2026-12-31T23:59:59Z"), in: T.utc) == T.date("2027-01-01T00:00:00Z"))
        #expect(yearly.next(after: T.date("2027-01-01T00:00:00Z"), in: T.utc) == T.date("2028-01-01T00:00:00Z"))
    }

    @Test func oneValueSteppedRangeIsThatValue() throws {
        // `43-43/8` is the range 43..43 stepped by 8 (cronie), not `43/8`.
        #expect(try T.next("43-43/8 10 * * *", from: from, count: 2) == ["2026-01-15T10:43:00Z", "2026-01-16T10:43:00Z"])
        #expect(try T.next("0 0 * * thu-thu/2", from: from, count: 2) == ["2026-01-22T00:00:00Z", "2026-01-29T00:00:00Z"])
        // while `4/2` runs to the field's end: Thursday and Saturday (6); 7 would be Sunday.
        #expect(try T.next("0 0 * * 4/2", from: from, count: 3) == ["2026-01-17T00:00:00Z", "2026-01-22T00:00:00Z", "2026-01-24T00:00:00Z"])
        #expect(try T.next("0 0 * * 5/2", from: from, count: 3) == ["2026-01-16T00:00:00Z", "2026-01-18T00:00:00Z", "2026-01-23T00:00:00Z"])
    }

    @Test func extremeDatesDoNotTrap() throws {
        for text in ["* * * * *", "every 5 minutes", "@yearly"] {
            let s = try Schedule.parse(text)
            #expect(s.next(after: Date(timeIntervalSince1970: 1e300), in: T.utc) == nil)
            #expect(s.next(after: Date(timeIntervalSince1970: -1e300), in: T.berlin) == nil)
            let far = try #require(s.next(after: .distantFuture, in: T.berlin))     // year 4001
            #expect(far > .distantFuture)
            let early = try #require(s.next(after: Date(timeIntervalSince1970: -1e10), in: T.utc))     // year 1653
            #expect(early.timeIntervalSince1970 > -1e10)
        }
        #expect(try Schedule.parse("at 2026-12-24T18:00:00Z").next(after: .distantPast, in: T.utc) == T.date("2026-12-24T18:00:00Z"))
    }

    @Test func impossibleExpressionsReturnNil() throws {
        for expr in ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 */7", "0 0 30,31 FEB *"] {
            let s = try Schedule.parse(expr)
            #expect(s.next(after: T.date("2026-01-01T00:00:00Z"), in: T.berlin) == nil, "\(expr)")
        }
        // With a restricted day-of-week the day fields are OR-ed, so this fires on February's Mondays.
        #expect(try T.next("0 0 30 2 1", from: from, count: 2) == ["2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"])
    }

    @Test func rareButPossibleExpressions() throws {
        // 29 February on a Sunday: 2032, then 2060.
        #expect(try T.next("0 0 29 2 */7", from: from, count: 2) == ["2032-02-29T00:00:00Z", "2060-02-29T00:00:00Z"])
    }

    @Test func timeZoneShiftsLocalFields() throws {
        // 09:00 in Berlin is 08:00Z in winter and 07:00Z in summer.
        #expect(try T.next("0 9 * * *", from: from, count: 1, tz: T.berlin) == ["2026-01-16T08:00:00Z"])
        #expect(try T.next("0 9 * * *", from: "2026-07-01T00:00:00Z", count: 1, tz: T.berlin) == ["2026-07-01T07:00:00Z"])
        // Kolkata is UTC+05:30 without daylight saving.
        let kolkata = TimeZone(identifier: "Asia/Kolkata")!
        #expect(try T.next("0 0 * * *", from: from, count: 2, tz: kolkata) == ["2026-01-15T18:30:00Z", "2026-01-16T18:30:00Z"])
    }

    @Test func describesItself() throws {
        let cron = try Schedule.parse("*/5 * * * *")
        #expect(cron.text == "*/5 * * * *")
        #expect(cron.usesTimeZone && !cron.isOneTime && cron.intervalSeconds == nil)
        #expect(try Schedule.parse("*/5 * * * *") == cron)
        #expect(try Schedule.parse("*/10 * * * *") != cron)
    }
}

@Suite("Schedule: daylight saving")
struct ScheduleDaylightSavingTests {
    typealias T = ScheduleTesting

    // Europe/Berlin 2026-03-29: at 01:00Z the clock jumps from 02:00 CET to 03:00 CEST.

    @Test func springSkippedFixedTimeFiresAtTheJump() throws {
        #expect(try T.next("30 2 * * *", from: "2026-03-28T12:00:00Z", count: 3, tz: T.berlin)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z", "2026-03-31T00:30:00Z"])
        // Several skipped times collapse into one occurrence at the jump.
        #expect(try T.next("0,30 2 * * *", from: "2026-03-28T12:00:00Z", count: 2, tz: T.berlin)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"])
        // Just before and just at the jump.
        let s = try Schedule.parse("30 2 * * *")
        #expect(s.next(after: T.date("2026-03-29T00:59:59Z"), in: T.berlin) == T.date("2026-03-29T01:00:00Z"))
        #expect(s.next(after: T.date("2026-03-29T01:00:00Z"), in: T.berlin) == T.date("2026-03-30T00:30:00Z"))
        // A skipped 02:00 on a non-matching day does not fire.
        #expect(try T.next("30 2 * * MON", from: "2026-03-28T12:00:00Z", count: 1, tz: T.berlin)
            == ["2026-03-30T00:30:00Z"])
    }

    @Test func springClockSchedulesSkipTheMissingHour() throws {
        #expect(try T.next("*/30 * * * *", from: "2026-03-29T00:10:00Z", count: 3, tz: T.berlin)
            == ["2026-03-29T00:30:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"])
        // `15 * * * *` follows the clock: 02:15 does not exist, so nothing extra at the jump.
        #expect(try T.next("15 * * * *", from: "2026-03-29T00:10:00Z", count: 2, tz: T.berlin)
            == ["2026-03-29T00:15:00Z", "2026-03-29T01:15:00Z"])
        #expect(try T.next("0 * * * *", from: "2026-03-28T23:30:00Z", count: 3, tz: T.berlin)
            == ["2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"])
        // `*/30 2 * * *` has a `*` minute field: it follows the clock and skips that day.
        #expect(try T.next("*/30 2 * * *", from: "2026-03-28T12:00:00Z", count: 1, tz: T.berlin)
            == ["2026-03-30T00:00:00Z"])
    }

    // Europe/Berlin 2026-10-25: at 01:00Z the clock goes back from 03:00 CEST to 02:00 CET.

    @Test func autumnFixedTimeFiresOnce() throws {
        #expect(try T.next("30 2 * * *", from: "2026-10-24T12:00:00Z", count: 2, tz: T.berlin)
            == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
        #expect(try T.next("0 2 * * *", from: "2026-10-24T12:00:00Z", count: 2, tz: T.berlin)
            == ["2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z"])
        // Asked from inside the second pass, it waits for the next day.
        let s = try Schedule.parse("30 2 * * *")
        #expect(s.next(after: T.date("2026-10-25T01:10:00Z"), in: T.berlin) == T.date("2026-10-26T01:30:00Z"))
        #expect(s.next(after: T.date("2026-10-25T00:30:00Z"), in: T.berlin) == T.date("2026-10-26T01:30:00Z"))
        // 03:30 is after the repeated hour and fires normally.
        #expect(try T.next("30 1-3 * * *", from: "2026-10-24T12:00:00Z", count: 4, tz: T.berlin)
            == ["2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z", "2026-10-26T00:30:00Z"])
    }

    @Test func autumnClockSchedulesFireInBothPasses() throws {
        #expect(try T.next("*/30 * * * *", from: "2026-10-24T23:40:00Z", count: 5, tz: T.berlin)
            == ["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-25T02:00:00Z"])
        #expect(try T.next("0 * * * *", from: "2026-10-24T23:40:00Z", count: 3, tz: T.berlin)
            == ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"])
        #expect(try T.next("@hourly", from: "2026-10-24T23:40:00Z", count: 3, tz: T.berlin)
            == ["2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"])
        #expect(try T.next("*/30 2 * * *", from: "2026-10-24T12:00:00Z", count: 5, tz: T.berlin)
            == ["2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z", "2026-10-25T01:30:00Z", "2026-10-26T01:00:00Z"])
    }

    @Test func newYork() throws {
        // 2026-03-08: 02:00 EST → 03:00 EDT at 07:00Z; 2026-11-01: 02:00 EDT → 01:00 EST at 06:00Z.
        #expect(try T.next("15 2 * * *", from: "2026-03-07T12:00:00Z", count: 2, tz: T.newYork)
            == ["2026-03-08T07:00:00Z", "2026-03-09T06:15:00Z"])
        #expect(try T.next("15 1 * * *", from: "2026-10-31T12:00:00Z", count: 2, tz: T.newYork)
            == ["2026-11-01T05:15:00Z", "2026-11-02T06:15:00Z"])
        #expect(try T.next("15 * * * *", from: "2026-11-01T04:00:00Z", count: 3, tz: T.newYork)
            == ["2026-11-01T04:15:00Z", "2026-11-01T05:15:00Z", "2026-11-01T06:15:00Z"])
    }

    @Test func lordHoweHalfHourShift() throws {
        let lordHowe = try #require(TimeZone(identifier: "Australia/Lord_Howe"))
        // 2026-04-05 02:00 (+11:00) → 01:30 (+10:30): Sunday 22:00 local is 11:30Z afterwards.
        #expect(try T.next("*/15 22/11 * * 7/2", from: "2026-03-28T12:00:00Z", count: 5, tz: lordHowe)
            == ["2026-03-29T11:00:00Z", "2026-03-29T11:15:00Z", "2026-03-29T11:30:00Z", "2026-03-29T11:45:00Z", "2026-04-05T11:30:00Z"])
        // 2026-10-04 02:00 (+10:30) → 02:30 (+11:00) at 15:30Z: a skipped 02:15 fires at the jump.
        #expect(try T.next("15 2 * * *", from: "2026-10-03T10:00:00Z", count: 2, tz: lordHowe)
            == ["2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"])
    }

    @Test func sixFieldsFollowTheSameRule() throws {
        #expect(try T.next("0 30 2 * * *", from: "2026-03-28T12:00:00Z", count: 2, tz: T.berlin)
            == ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"])
        #expect(try T.next("0 30 2 * * *", from: "2026-10-24T12:00:00Z", count: 2, tz: T.berlin)
            == ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"])
    }
}

@Suite("Schedule: intervals, one time, ranges of occurrences")
struct ScheduleIntervalTests {
    typealias T = ScheduleTesting
    let from = "2026-01-15T10:17:23Z"

    @Test func intervalsAreEpochMultiples() throws {
        #expect(try T.next("every 6 hours", from: from, count: 2) == ["2026-01-15T12:00:00Z", "2026-01-15T18:00:00Z"])
        #expect(try T.next("@every 90s", from: from, count: 2) == ["2026-01-15T10:18:00Z", "2026-01-15T10:19:30Z"])
        #expect(try T.next("every 5 minutes", from: from, count: 1) == ["2026-01-15T10:20:00Z"])
        #expect(try T.next("every 30s", from: from, count: 1) == ["2026-01-15T10:17:30Z"])
        #expect(try T.next("every minute", from: from, count: 1) == ["2026-01-15T10:18:00Z"])
        #expect(try T.next("every 1 day", from: from, count: 1) == ["2026-01-16T00:00:00Z"])
        #expect(try T.next("every 1h30m", from: from, count: 1) == ["2026-01-15T10:30:00Z"])
        #expect(try T.next("Every 2 Weeks", from: from, count: 1) == ["2026-01-29T00:00:00Z"])
        #expect(try T.next("every 10 sec", from: from, count: 1) == ["2026-01-15T10:17:30Z"])
        #expect(try T.next("every 1.5 h", from: from, count: 1) == ["2026-01-15T10:30:00Z"])
        // The time zone does not move intervals.
        #expect(try T.next("every 1 day", from: from, count: 1, tz: T.berlin) == ["2026-01-16T00:00:00Z"])
        // Exactly on a multiple: the next one.
        let s = try Schedule.parse("every 5 minutes")
        #expect(s.next(after: T.date("2026-01-15T10:20:00Z"), in: T.utc) == T.date("2026-01-15T10:25:00Z"))
        #expect(s.intervalSeconds == 300 && !s.usesTimeZone && !s.isOneTime)
    }

    @Test func oneTime() throws {
        let s = try Schedule.parse("at 2026-12-24T18:00:00Z")
        #expect(s.isOneTime)
        #expect(s.next(after: T.date("2026-01-01T00:00:00Z"), in: T.berlin) == T.date("2026-12-24T18:00:00Z"))
        #expect(s.next(after: T.date("2026-12-24T18:00:00Z"), in: T.utc) == nil)
        #expect(s.occurrences(after: T.date("2026-01-01T00:00:00Z"), count: 5, in: T.utc).count == 1)
        let epoch = try Schedule.parse("at 1798135200")
        #expect(epoch.next(after: T.date("2026-01-01T00:00:00Z"), in: T.utc) == T.date("2026-12-24T18:00:00Z"))
        let offset = try Schedule.parse("at 2026-12-24T19:00:00+01:00")
        #expect(offset.next(after: T.date("2026-01-01T00:00:00Z"), in: T.utc) == T.date("2026-12-24T18:00:00Z"))
    }

    @Test func occurrencesInARange() throws {
        let s = try Schedule.parse("0 * * * *")
        let a = T.date("2026-01-15T00:00:00Z"), b = T.date("2026-01-15T05:00:00Z")
        #expect(s.occurrences(after: a, through: b, limit: 10, in: T.utc).map(T.iso)
            == ["2026-01-15T01:00:00Z", "2026-01-15T02:00:00Z", "2026-01-15T03:00:00Z", "2026-01-15T04:00:00Z", "2026-01-15T05:00:00Z"])
        #expect(s.occurrences(after: a, through: b, limit: 2, in: T.utc).map(T.iso) == ["2026-01-15T01:00:00Z", "2026-01-15T02:00:00Z"])
        #expect(s.occurrences(after: b, through: b, limit: 10, in: T.utc).isEmpty)
    }

    @Test func latestOccurrences() throws {
        let every5 = try Schedule.parse("*/5 * * * *")
        let a = T.date("2026-01-01T00:00:00Z"), b = T.date(from)
        #expect(every5.latestOccurrences(after: a, through: b, limit: 3, in: T.utc).map(T.iso)
            == ["2026-01-15T10:05:00Z", "2026-01-15T10:10:00Z", "2026-01-15T10:15:00Z"])
        #expect(every5.latestOccurrences(after: T.date("2026-01-15T10:02:00Z"), through: b, limit: 10, in: T.utc).map(T.iso)
            == ["2026-01-15T10:05:00Z", "2026-01-15T10:10:00Z", "2026-01-15T10:15:00Z"])
        #expect(every5.latestOccurrences(after: b, through: b, limit: 10, in: T.utc).isEmpty)
        #expect(every5.latestOccurrences(after: a, through: b, limit: 0, in: T.utc).isEmpty)
        // The same as the tail of the full oldest-first list, for a few uneven schedules.
        for (expr, zone) in [("7,11 */3 1,15 * *", T.newYork), ("* 2 * * SUN", T.berlin), ("30 2 * * *", T.berlin), ("every 7h", T.utc)] {
            let s = try Schedule.parse(expr)
            let from = T.date("2026-01-01T00:00:00Z"), to = T.date("2026-11-30T00:00:00Z")
            let all = s.occurrences(after: from, through: to, limit: 100_000, in: zone)
            for limit in [1, 2, 17, 100, 1000] {
                #expect(s.latestOccurrences(after: from, through: to, limit: limit, in: zone) == Array(all.suffix(limit)), "\(expr) limit \(limit)")
            }
        }
    }

    @Test func lastOccurrence() throws {
        let every5 = try Schedule.parse("*/5 * * * *")
        #expect(every5.lastOccurrence(after: T.date("2026-01-01T00:00:00Z"), through: T.date(from), in: T.utc) == T.date("2026-01-15T10:15:00Z"))
        #expect(every5.lastOccurrence(after: T.date("2026-01-15T10:15:00Z"), through: T.date(from), in: T.utc) == nil)
        #expect(every5.lastOccurrence(after: T.date("2026-01-15T10:14:00Z"), through: T.date("2026-01-15T10:15:00Z"), in: T.utc) == T.date("2026-01-15T10:15:00Z"))
        let everySecond = try Schedule.parse("* * * * * *")
        #expect(everySecond.lastOccurrence(after: T.date("2020-01-01T00:00:00Z"), through: T.date("2026-01-15T10:17:23.5Z"), in: T.berlin) == T.date("2026-01-15T10:17:23Z"))
        let fixed = try Schedule.parse("30 2 * * *")
        #expect(fixed.lastOccurrence(after: T.date("2026-10-24T12:00:00Z"), through: T.date("2026-10-25T23:00:00Z"), in: T.berlin) == T.date("2026-10-25T00:30:00Z"))
        let interval = try Schedule.parse("every 6 hours")
        #expect(interval.lastOccurrence(after: T.date("2026-01-01T00:00:00Z"), through: T.date(from), in: T.utc) == T.date("2026-01-15T06:00:00Z"))
        // Each cron occurrence in a range agrees with the last one found by bisection.
        let odd = try Schedule.parse("7,11 */3 1,15 * *")
        let all = odd.occurrences(after: T.date("2026-01-01T00:00:00Z"), through: T.date("2026-06-01T00:00:00Z"), limit: 1000, in: T.newYork)
        #expect(all.count == 10 * 2 * 8)
        #expect(odd.lastOccurrence(after: T.date("2026-01-01T00:00:00Z"), through: T.date("2026-06-01T00:00:00Z"), in: T.newYork) == all.last)
    }
}

@Suite("Schedule: errors")
struct ScheduleErrorTests {
    static let cases: [(String, String)] = [
        ("0 25 * * *", "cron field \"hour\" value 25 is out of range 0-23 in \"0 25 * * *\""),
        ("* * * *", "cron needs 5 or 6 fields, got 4"),
        ("* * * * * * *", "cron needs 5 or 6 fields, got 7"),
        ("@fortnightly", "unknown macro \"@fortnightly\""),
        ("@reboot", "\"@reboot\" is not supported"),
        ("@daily now", "macro \"@daily\" takes no arguments"),
        ("60 * * * *", "cron field \"minute\" value 60 is out of range 0-59"),
        ("0 0 0 * *", "cron field \"day-of-month\" value 0 is out of range 1-31"),
        ("0 0 32 * *", "cron field \"day-of-month\" value 32 is out of range 1-31"),
        ("0 0 * 13 *", "cron field \"month\" value 13 is out of range 1-12"),
        ("0 0 * * 8", "cron field \"day-of-week\" value 8 is out of range 0-7"),
        ("60 0 0 * * *", "cron field \"second\" value 60 is out of range 0-59"),
        ("*/0 * * * *", "cron field \"minute\" step 0 is not allowed"),
        ("*/x * * * *", "cron field \"minute\" step \"x\" is not a number"),
        ("30-10 * * * *", "cron field \"minute\" range 30-10 goes backwards"),
        ("0 0 * FOO *", "cron field \"month\" value \"FOO\" is not a number 1-12 or a month name JAN-DEC"),
        ("0 0 * * MON-FUN", "cron field \"day-of-week\" value \"FUN\" is not a number 0-7 or a day name SUN-SAT"),
        ("0 0 * MON *", "cron field \"month\" value \"MON\""),
        ("0 JAN * * *", "cron field \"hour\" value \"JAN\" is not a number 0-23"),
        ("1,,2 * * * *", "cron field \"minute\" has an empty list item"),
        ("1- * * * *", "cron field \"minute\" has a missing value"),
        ("L * * * *", "cron field \"minute\" value \"L\""),
        ("", "a schedule cannot be empty"),
        ("   ", "a schedule cannot be empty"),
        ("every", "needs a length"),
        ("every 0s", "shorter than one second"),
        ("every 500ms", "shorter than one second"),
        ("every 5 fortnights", "unknown unit \"fortnights\""),
        ("every five minutes", "\"five\" is not a number"),
        ("every 5 nice minutes", "is not valid"),
        ("@every banana", "interval \"@every banana\""),
        ("at tomorrow", "one-time schedule \"at tomorrow\": time \"tomorrow\" is not ISO 8601"),
        ("at", "needs one time"),
    ]

    @Test("bad schedules say which field and why", arguments: cases)
    func rejects(_ c: (String, String)) {
        do {
            _ = try Schedule.parse(c.0)
            Issue.record("\"\(c.0)\" parsed")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains(c.1), "\(error.message)")
        }
    }

    @Test func timeZones() throws {
        #expect(try Schedule.timeZone(named: "Europe/Berlin").identifier == "Europe/Berlin")
        #expect(try Schedule.timeZone(named: "UTC").secondsFromGMT() == 0)
        do {
            _ = try Schedule.timeZone(named: "Mars/Olympus_Mons")
            Issue.record("unknown zone accepted")
        } catch {
            #expect(error.message.contains("unknown time zone \"Mars/Olympus_Mons\""))
        }
    }
}
