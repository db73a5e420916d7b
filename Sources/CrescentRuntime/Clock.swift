import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Seconds on the monotonic clock, for leases, deadlines and timeouts within one process: a
/// wall clock stepped by NTP or by hand moves neither (times written to the database stay
/// wall-clock times).
public enum Monotonic {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
