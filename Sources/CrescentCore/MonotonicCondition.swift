import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A lock with a condition whose timed waits run on the monotonic clock. `NSCondition`'s
/// `wait(until:)` waits for a wall-clock time: a clock stepped back during the wait stretches
/// it by the step (an hour's step back stalled idle loops for that hour). Used by the loops
/// that wait with a timeout: the pipeline, the Lua workers, the scheduler and the pruner.
public final class MonotonicCondition: NSLocking, @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// The condition whose lock this one uses (kept alive with it), or nil: its own lock.
    private let lockOwner: MonotonicCondition?

    public init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        lockOwner = nil
        pthread_mutex_init(mutex, nil)
        Self.initCondition(cond)
    }

    /// A second condition on `other`'s lock: its waiters are woken only by its own signals,
    /// while the state they wait for stays guarded by the one lock.
    public init(sharingLockOf other: MonotonicCondition) {
        mutex = other.mutex
        lockOwner = other
        Self.initCondition(cond)
    }

    private static func initCondition(_ cond: UnsafeMutablePointer<pthread_cond_t>) {
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        cond.deallocate()
        if lockOwner == nil {
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }
    public func signal() { pthread_cond_signal(cond) }
    public func broadcast() { pthread_cond_broadcast(cond) }

    /// Waits (the lock held) until signalled.
    public func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits (the lock held) until signalled or `seconds` have passed on the monotonic clock;
    /// false when the time ran out. Wake-ups may be spurious: callers re-check their state.
    @discardableResult
    public func wait(seconds: Double) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let s = seconds.isFinite ? min(max(0, seconds), 86_400) : 86_400
        let whole = s.rounded(.down)
        var sec = ts.tv_sec + Int(whole)
        var nsec = ts.tv_nsec + Int((s - whole) * 1e9)
        if nsec >= 1_000_000_000 { sec += 1; nsec -= 1_000_000_000 }
        var deadline = timespec(tv_sec: sec, tv_nsec: nsec)
        return pthread_cond_timedwait(cond, mutex, &deadline) == 0
    }
}
