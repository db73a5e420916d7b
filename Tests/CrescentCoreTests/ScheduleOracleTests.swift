import Foundation
import Testing
@testable import CrescentCore

/// Compares `Schedule.next` with a deliberately naive model of SPEC §3: walk real time minute
/// by minute, read the local wall clock from Foundation's `Calendar`, and apply the
/// daylight-saving rules literally (clock-following schedules match the wall clock; other
/// schedules skip wall times already seen and fire skipped wall times at the first minute
/// after a jump). Start instants cluster around 2026's daylight-saving changes.
@Suite("Schedule: brute-force model")
struct ScheduleOracleTests {
    /// A small deterministic generator (SplitMix64), so failures reproduce.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ lo: Int, _ hi: Int) -> Int { lo + Int(next() % UInt64(hi - lo + 1)) }
        mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
    }

    /// A random field and the set of values it stands for (7 already folded to 0).
    static func field(_ rng: inout SplitMix, _ lo: Int, _ hi: Int, star: Double) -> (String, Set<Int>) {
        func fold(_ v: Int) -> Int { hi == 7 && v == 7 ? 0 : v }
        if rng.chance(star) { return ("*", Set((lo...hi).map(fold))) }
        switch rng.int(0, 4) {
        case 0:
            let v = rng.int(lo, hi)
            return ("\(v)", [fold(v)])
        case 1:
            let a = rng.int(lo, hi - 1), b = rng.int(a + 1, hi)
            return ("\(a)-\(b)", Set((a...b).map(fold)))
        case 2:
            let step = rng.int(1, (hi - lo) / 2 + 1)
            return ("*/\(step)", Set(stride(from: lo, through: hi, by: step).map(fold)))
        case 3:
            let a = rng.int(lo, hi - 1), b = rng.int(a + 1, hi), step = rng.int(1, 5)
            return ("\(a)-\(b)/\(step)", Set(stride(from: a, through: b, by: step).map(fold)))
        default:
            let a = rng.int(lo, hi), b = rng.int(lo, hi)
            return ("\(a),\(b)", [fold(a), fold(b)])
        }
    }

    struct Model {
        var minutes, hours, doms, months, dows: Set<Int>
        var domStar, dowStar, followsClock: Bool
        let zone: TimeZone
        var calendar: Calendar

        init(fields: [(String, Set<Int>)], zone: TimeZone) {
            minutes = fields[0].1; hours = fields[1].1; doms = fields[2].1; months = fields[3].1; dows = fields[4].1
            domStar = fields[2].0.hasPrefix("*"); dowStar = fields[4].0.hasPrefix("*")
            followsClock = fields[0].0.hasPrefix("*") || fields[1].0.hasPrefix("*")
            self.zone = zone
            calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = zone
        }

        /// The local wall clock at real instant `t`, as comparable "local seconds".
        func wall(_ t: Int64) -> Int64 { t + Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t)))) }

        /// Whether the wall-clock reading of local seconds `w` matches the fields.
        func matches(wall w: Int64) -> Bool {
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            let c = utc.dateComponents([.minute, .hour, .day, .month, .weekday], from: Date(timeIntervalSince1970: Double(w)))
            guard minutes.contains(c.minute!), hours.contains(c.hour!), months.contains(c.month!) else { return false }
            let domOK = doms.contains(c.day!), dowOK = dows.contains(c.weekday! - 1)
            return (domStar || dowStar) ? (domOK && dowOK) : (domOK || dowOK)
        }

        func occurrences(after from: Int64, count: Int, within span: Int64) -> [Int64] {
            var out: [Int64] = []
            var t = (from / 60 + 1) * 60
            var latestWall = Int64.min        // the furthest wall time seen so far
            var v = t - 3 * 3600
            while v < t { latestWall = max(latestWall, wall(v)); v += 60 }
            var previousWall = wall(t - 60)
            while out.count < count && t < from + span {
                let w = wall(t)
                var fire: Bool
                if followsClock {
                    fire = matches(wall: w)
                } else {
                    fire = w > latestWall && matches(wall: w)
                    if w - previousWall > 60 && w - previousWall <= 3 * 3600 {
                        var skipped = previousWall + 60
                        while skipped < w { if matches(wall: skipped) { fire = true }; skipped += 60 }
                    }
                }
                if fire { out.append(t) }
                latestWall = max(latestWall, w)
                previousWall = w
                t += 60
            }
            return out
        }
    }

    @Test func agreesWithMinuteByMinuteModel() throws {
        var rng = SplitMix(state: 20_261_123)
        let zones = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago", "UTC"]
            .map { TimeZone(identifier: $0)! }
        // Around 2026's changes: Berlin 03-29 and 10-25 01:00Z, New York 03-08 07:00Z and
        // 11-01 06:00Z, Sydney 04-04 16:00Z and 10-03 16:00Z.
        let changes: [Int64] = [1_774_746_000, 1_792_890_000, 1_772_953_200, 1_793_512_800, 1_775_318_400, 1_790_956_800]
        let span: Int64 = 4 * 86400
        var compared = 0, agreed = 0
        for _ in 0..<120 {
            let fields = [
                Self.field(&rng, 0, 59, star: 0.3), Self.field(&rng, 0, 23, star: 0.45),
                Self.field(&rng, 1, 31, star: 0.85), Self.field(&rng, 1, 12, star: 0.9), Self.field(&rng, 0, 7, star: 0.75),
            ]
            let expr = fields.map(\.0).joined(separator: " ")
            let zone = zones[rng.int(0, zones.count - 1)]
            let base = changes[rng.int(0, changes.count - 1)]
            let from = rng.chance(0.5) ? base + Int64(rng.int(-3, 1)) : base + Int64(rng.int(-30_000, 10_000))
            let model = Model(fields: fields, zone: zone)
            let expected = model.occurrences(after: from, count: 4, within: span)
            let got = try Schedule.parse(expr)
                .occurrences(after: Date(timeIntervalSince1970: Double(from)), count: 4, in: zone)
                .map { Int64($0.timeIntervalSince1970) }
                .filter { $0 < from + span }
            compared += 1
            if got == expected { agreed += 1 }
            #expect(got == expected, "\(expr) in \(zone.identifier) after \(from)")
        }
        print("cron brute-force model: \(agreed)/\(compared) agree")
    }
}
