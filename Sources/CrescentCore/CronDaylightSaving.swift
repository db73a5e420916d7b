import Foundation

/// Maps a cron expression's local wall-clock matches to real instants in a time zone,
/// handling daylight saving the way cronie does:
///
/// - Spring forward (the clock jumps ahead by less than 3 hours): a local time that the
///   jump skips fires once, at the instant of the jump — for schedules whose minute and
///   hour fields are fixed (`30 2 * * *`). Schedules with `*` or `*/n` in the minute or
///   hour field follow the clock and simply have no occurrence in the skipped span.
/// - Fall back (the clock goes back by less than 3 hours): schedules with `*` or `*/n` in
///   the minute or hour field keep firing by the clock, so they fire in both passes of the
///   repeated hour; any other schedule fires only in the first pass.
/// - Larger offset changes (a zone changing its standard offset) are not treated as
///   daylight saving: every schedule just follows the new clock.
///
/// The walk goes through spans of constant UTC offset; within a span local time and real
/// time move together, so the pure field matcher finds the next local match directly.
struct CronZoneWalk {
    /// Offset changes of this size or more are clock corrections, not daylight saving.
    static let dstLimit: Int64 = 3 * 3600
    /// How far ahead `next` looks before giving up (100 years of seconds).
    static let horizon: Int64 = 100 * 31_556_952

    let zone: TimeZone

    @inline(__always)
    func offset(_ t: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(t))))
    }

    /// The first instant after `t` whose offset differs from `offsetAtT`, or nil if the
    /// zone reports no later transition.
    func nextChange(after t: Int64, offsetAtT: Int64) -> Int64? {
        var from = t
        // A zone may report transitions that do not change the total offset; skip those.
        for _ in 0..<8 {
            guard let d = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(from))) else {
                return nil
            }
            var change = Int64(d.timeIntervalSince1970.rounded(.up))
            if change <= from { change = from + 1 }
            if offset(change - 1) != offsetAtT {
                // The reported transition came late: find the real change by bisection.
                var lo = t, hi = change - 1     // offset(lo) == offsetAtT, offset(hi) differs
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2
                    if offset(mid) == offsetAtT { lo = mid } else { hi = mid }
                }
                return hi
            }
            if offset(change) != offsetAtT { return change }
            from = change
        }
        return nil
    }

    /// The first occurrence of `cron` at or after instant `start` (epoch seconds).
    func next(_ cron: CronExpression, atOrAfter start: Int64) -> Int64? {
        guard cron.canFire else { return nil }
        let end = start + CronZoneWalk.horizon
        var u = start
        // Local times below this were already fired in the first pass of a repeated hour.
        var repeatFloor: Int64? = nil
        if !cron.followsClock {
            let early = u - CronZoneWalk.dstLimit
            let before = offset(early)
            if let t = nextChange(after: early, offsetAtT: before), t <= u {
                let after = offset(t)
                let back = before - after
                if back > 0 && back < CronZoneWalk.dstLimit && u < t + back { repeatFloor = t + before }
            }
        }
        if !cron.followsClock {
            // Starting exactly at a spring-forward jump: the skipped local times fire now.
            let before = offset(u - 1), after = offset(u)
            let delta = after - before
            if delta > 0 && delta < CronZoneWalk.dstLimit && cron.nextLocal(from: u + before, through: u + after - 1) != nil {
                return u
            }
        }
        while u <= end {
            let off = offset(u)
            let change = nextChange(after: u, offsetAtT: off)
            var from = u + off
            if let floor = repeatFloor, floor > from { from = floor }
            let spanEnd = Swift.min(change ?? Int64.max, end + 1)      // exclusive, real time
            if let w = cron.nextLocal(from: from, through: spanEnd - 1 + off) {
                return w - off
            }
            guard let change, change <= end else { return nil }
            let newOff = offset(change)
            let delta = newOff - off
            repeatFloor = nil
            if !cron.followsClock && delta > 0 && delta < CronZoneWalk.dstLimit {
                // Spring forward: local times in [change+off, change+newOff) do not exist.
                if cron.nextLocal(from: change + off, through: change + newOff - 1) != nil { return change }
            }
            if !cron.followsClock && delta < 0 && -delta < CronZoneWalk.dstLimit {
                // Fall back: local times below change+off already had their first pass.
                repeatFloor = change + off
            }
            u = change
        }
        return nil
    }
}
