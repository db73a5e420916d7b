import Foundation
import Testing
@testable import CrescentCore

@Suite("DurationText")
struct DurationTextTests {
    @Test(arguments: [
        ("30s", 30.0), ("5m", 300), ("6h", 21600), ("1d", 86400), ("1w", 604800), ("250ms", 0.25),
        ("1h30m", 5400), ("1d2h", 93600), ("1.5h", 5400), ("10", 10), ("0", 0), ("2.5", 2.5),
        (" 5m ", 300), ("5M", 300), ("1m30s500ms", 90.5),
    ])
    func parses(_ c: (String, Double)) throws {
        #expect(try DurationText.parse(c.0) == c.1)
    }

    @Test(arguments: [
        ("", "cannot be empty"), ("-5", "must be a non-negative number"), ("inf", "must be a non-negative number"),
        ("nan", "must be a non-negative number"), ("5x", "unknown unit \"x\""), ("m", "is not valid"),
        ("-5s", "\"-5s\" must not be negative"), ("1.2.3s", "is not valid"), ("5 minutes", "unknown unit"),
        ("1" + String(repeating: "0", count: 400) + "s", "is too long"),
    ])
    func rejects(_ c: (String, String)) {
        do {
            let v = try DurationText.parse(c.0)
            Issue.record("\"\(c.0)\" parsed as \(v)")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains(c.1), "\(error.message)")
        }
    }

    @Test func formats() {
        #expect(DurationText.format(90) == "1m30s")
        #expect(DurationText.format(0.25) == "250ms")
        #expect(DurationText.format(0) == "0s")
        #expect(DurationText.format(3600) == "1h")
        #expect(DurationText.format(86401) == "1d1s")
        #expect(DurationText.format(1.5) == "1s500ms")
        #expect(DurationText.format(0.9996) == "1s")
        #expect(DurationText.format(-5) == "-5s")
        #expect(DurationText.format(.infinity) == "inf")
    }

    @Test func formatParsesBack() throws {
        for v: Double in [0.001, 0.25, 1, 59, 61.5, 3599, 86399.999, 90061.001, 1_814_401] {
            #expect(try DurationText.parse(DurationText.format(v)) == v, "\(v) → \(DurationText.format(v))")
        }
    }
}

@Suite("TimeText")
struct TimeTextTests {
    @Test func parsesISO8601AndEpoch() throws {
        #expect(try TimeText.parse("2026-11-23T08:00:00Z").timeIntervalSince1970 == 1_795_420_800)
        #expect(try TimeText.parse("2026-11-23T08:00:00.250Z").timeIntervalSince1970 == 1_795_420_800.25)
        #expect(try TimeText.parse("2026-11-23T09:00:00+01:00").timeIntervalSince1970 == 1_795_420_800)
        #expect(try TimeText.parse("1700000000").timeIntervalSince1970 == 1_700_000_000)
        #expect(try TimeText.parse(" 1700000000.5 ").timeIntervalSince1970 == 1_700_000_000.5)
        #expect(try TimeText.parse("-1.5").timeIntervalSince1970 == -1.5)
    }

    @Test(arguments: ["", "garbage", "2026-11-23 08:00:00Z", "2026-13-01T00:00:00Z", "1e300", "tomorrow",
                      "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z",
                      "2026-01-01T00:60:00Z", "99999-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "-1e300"])
    func rejects(_ text: String) {
        do {
            let d = try TimeText.parse(text)
            Issue.record("\"\(text)\" parsed as \(d)")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.contains("time \"\(text)\""), "\(error.message)")
        }
    }

    @Test func outOfRangeIsOneSentence() throws {
        for text in ["99999-01-01T00:00:00Z", "0000-06-01T00:00:00Z", "1e300", "-1e300", "9999-12-31T23:59:59-05:00"] {
            #expect(throws: CrescentError.self) { try TimeText.parse(text) }
            do { _ = try TimeText.parse(text) } catch { #expect(error.message == "time \"\(text)\" is out of range (years 1 to 9999)") }
        }
        #expect(try TimeText.parse("2028-02-29T00:00:00Z").timeIntervalSince1970 == 1_835_395_200)
        #expect(try TimeText.parse("9999-12-31T23:59:59Z").timeIntervalSince1970 == TimeText.maxEpoch)
        #expect(throws: CrescentError.self) { try InputRange.time(after: 1e300) }
        #expect(throws: CrescentError.self) { try InputRange.priority(1_000_000_001) }
        #expect(try InputRange.priority(-1_000_000_000) == -1_000_000_000)
    }

    @Test func formatsUTCWithMilliseconds() {
        #expect(TimeText.format(Date(timeIntervalSince1970: 1_795_420_800)) == "2026-11-23T08:00:00.000Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: 1_795_420_800.25)) == "2026-11-23T08:00:00.250Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: -0.001)) == "1969-12-31T23:59:59.999Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: -86400.5)) == "1969-12-30T23:59:59.500Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: 4_107_542_399)) == "2100-02-28T23:59:59.000Z")
        #expect(TimeText.format(Date(timeIntervalSince1970: 4_107_542_400)) == "2100-03-01T00:00:00.000Z")
    }

    @Test func formatAgreesWithFoundation() throws {
        var gregorian = Calendar(identifier: .gregorian)
        gregorian.timeZone = TimeZone(identifier: "UTC")!
        var t: Int64 = -2_208_988_800     // 1900-01-01
        while t < 7_258_118_400 {         // 2200-01-01
            let date = Date(timeIntervalSince1970: Double(t))
            let c = gregorian.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02d.000Z", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            #expect(TimeText.format(date) == expected)
            #expect(try TimeText.parse(TimeText.format(date)) == date)
            t += 7_777_777     // about 90 days and some hours, so every field varies
        }
    }
}

@Suite("RetryPolicy")
struct RetryPolicyTests {
    @Test func exponentialDoublesUpToMaxDelay() {
        let p = RetryPolicy.default
        #expect((1...9).map { p.baseDelay(afterAttempt: $0) } == [15, 30, 60, 120, 240, 480, 960, 1920, 3600])
        #expect(p.baseDelay(afterAttempt: 100) == 3600)
        #expect(p.baseDelay(afterAttempt: Int.max) == 3600)
        #expect(p.baseDelay(afterAttempt: 0) == 15)     // attempts count from 1
    }

    @Test func fixedAndLinear() {
        let fixed = RetryPolicy(attempts: 3, backoff: .fixed, delay: 10, maxDelay: 3600, jitter: 0)
        #expect((1...4).map { fixed.baseDelay(afterAttempt: $0) } == [10, 10, 10, 10])
        let linear = RetryPolicy(attempts: 10, backoff: .linear, delay: 7, maxDelay: 30, jitter: 0)
        #expect((1...6).map { linear.baseDelay(afterAttempt: $0) } == [7, 14, 21, 28, 30, 30])
        let capped = RetryPolicy(attempts: 3, backoff: .fixed, delay: 100, maxDelay: 60, jitter: 0)
        #expect(capped.baseDelay(afterAttempt: 1) == 60)
    }

    @Test func jitterStaysWithinBounds() {
        let p = RetryPolicy(attempts: 5, backoff: .exponential, delay: 15, maxDelay: 3600, jitter: 0.1)
        #expect(p.delay(afterAttempt: 2, unit: 0) == 27)
        #expect(p.delay(afterAttempt: 2, unit: 0.5) == 30)
        #expect(abs(p.delay(afterAttempt: 2, unit: 0.999_999) - 33) < 0.001)
        for attempt in 1...12 {
            let base = p.baseDelay(afterAttempt: attempt)
            for _ in 0..<200 {
                let d = p.delay(afterAttempt: attempt)
                #expect(d >= base * 0.9 && d <= base * 1.1, "attempt \(attempt): \(d) vs \(base)")
            }
        }
        let none = RetryPolicy(attempts: 5, backoff: .linear, delay: 5, maxDelay: 60, jitter: 0)
        #expect(none.delay(afterAttempt: 3, unit: 0.9) == 15)
        let wild = RetryPolicy(attempts: 5, backoff: .fixed, delay: 5, maxDelay: 60, jitter: 2)
        #expect(wild.delay(afterAttempt: 1, unit: 0) == 0)     // never negative
    }
}

@Suite("JSONValue")
struct JSONValueTests {
    @Test func encodesCanonically() {
        let v = JSONValue.object(["b": .int(1), "a": .array([.bool(true), .null, .double(1.5), .string("x")]), "A": .object([:])])
        #expect(v.encoded() == #"{"A":{},"a":[true,null,1.5,"x"],"b":1}"#)
        #expect(JSONValue.string("a\u{1}\"\\\n\t\r/é😀").encoded() == #""a\u0001\"\\\n\t\r/é😀""#)
        #expect(JSONValue.double(2).encoded() == "2")
        #expect(JSONValue.double(.nan).encoded() == "null")
        #expect(JSONValue.double(1e20).encoded() == "1e+20")
        #expect(JSONValue.int(Int64.min).encoded() == "-9223372036854775808")
    }

    @Test func keyOrderDoesNotMatter() throws {
        let a = try JSONValue.decode(#"{"z": 1, "a": {"y": [1, 2], "b": null}}"#)
        let b = try JSONValue.decode(#"{"a":{"b":null,"y":[1,2]},"z":1}"#)
        #expect(a == b)
        #expect(a.encoded() == b.encoded())
        #expect(a.encoded() == #"{"a":{"b":null,"y":[1,2]},"z":1}"#)
    }

    @Test(arguments: [
        #"null"#, #"true"#, #"false"#, #"0"#, #"-12"#, #"9223372036854775807"#, #"1.5"#, #"-0.0015"#,
        #""""#, #""hé \"q\" \\ \n \u0001""#, #"[]"#, #"{}"#, #"[1,[2,[3,{"a":"b"}]]]"#,
        #"{"args":{"id":42,"tags":["x","y"],"ok":true,"ratio":0.25,"none":null}}"#,
    ])
    func roundTrips(_ text: String) throws {
        let v = try JSONValue.decode(text)
        #expect(try JSONValue.decode(v.encoded()) == v)
        #expect(try JSONValue.decode(v.encoded()).encoded() == v.encoded())
    }

    @Test func decodesValues() throws {
        #expect(try JSONValue.decode(" 42 ") == .int(42))
        #expect(try JSONValue.decode("1E2") == .double(100))
        #expect(try JSONValue.decode("-0") == .int(0))
        #expect(try JSONValue.decode("9223372036854775808") == .double(9_223_372_036_854_775_808))
        #expect(try JSONValue.decode(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONValue.decode(#""\u00e9\/""#) == .string("é/"))
        #expect(try JSONValue.decode(#""\ud800\u0041""#) == .string("\u{FFFD}A"))   // lone high surrogate
        #expect(try JSONValue.decode(#""\udc00""#) == .string("\u{FFFD}"))
        let o = try JSONValue.decode(#"{"n": 3, "s": "x", "d": 2.5}"#)
        #expect(o["n"]?.intValue == 3 && o["s"]?.stringValue == "x" && o["d"]?.doubleValue == 2.5)
        #expect(o["missing"] == nil && JSONValue.int(1)["n"] == nil)
        #expect(JSONValue.double(3).intValue == 3 && JSONValue.double(3.5).intValue == nil)
    }

    @Test(arguments: [
        ("", "unexpected end of input"), ("   ", "unexpected end of input"), ("[1,]", "unexpected character"),
        (#"{"a" 1}"#, "expected ':'"), (#"{"a":1,}"#, "expected a string key"), ("[1 2]", "expected ',' or ']'"),
        ("[1] x", "unexpected text after the JSON value"), ("tru", "unexpected character"), (#""abc"#, "unterminated string"),
        ("\"a\u{1}\"", "control character in string"), (#""\x""#, "bad escape"), (#""\u12""#, "bad \\u escape"),
        ("01", "leading zeros"), ("+1", "unexpected character"), (".5", "unexpected character"), ("1.", "after '.'"),
        ("1e", "exponent"), ("-", "after '-'"), ("1e400", "out of range"), ("{1:2}", "expected a string key"),
    ])
    func rejects(_ c: (String, String)) {
        do {
            let v = try JSONValue.decode(c.0)
            Issue.record("\"\(c.0)\" decoded as \(v)")
        } catch {
            #expect(error.kind == .usage)
            #expect(error.message.hasPrefix("invalid JSON"))
            #expect(error.message.contains(c.1), "\(error.message)")
        }
    }

    @Test func depthLimit() throws {
        let ok = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        _ = try JSONValue.decode(ok)
        let objects = String(repeating: #"{"a":"#, count: JSONValue.maxDepth) + "1" + String(repeating: "}", count: JSONValue.maxDepth)
        #expect(throws: CrescentError.self) { try JSONValue.decode(objects) }
        let deep = String(repeating: "[", count: JSONValue.maxDepth + 1) + String(repeating: "]", count: JSONValue.maxDepth + 1)
        do {
            _ = try JSONValue.decode(deep)
            Issue.record("too deep JSON decoded")
        } catch {
            #expect(error.message == "invalid JSON: nested deeper than 200 levels")
        }
    }
}
