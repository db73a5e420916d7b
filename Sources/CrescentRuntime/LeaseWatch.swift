import CrescentStore

/// The lease rules of one `run` process, on its own monotonic clock (`Monotonic.now()`), so
/// that neither a wall clock stepped forward or back nor a write lock held by someone else
/// makes it take a live process's jobs.
///
/// - Writable: each committed heartbeat proves this process could write. Commits no more than
///   `maxGap` apart form one unbroken stretch; `writableSince` is when the current one began.
/// - Claims: only while the last heartbeat committed within `maxGap` (a process that cannot
///   renew its lease starts no new attempts).
/// - Rescue: another process's jobs go back to the queue only when its stored heartbeat value
///   has not changed for a whole `lease` of this process's time, *and* this process has been
///   writable for a whole `lease`. A process that was blocked on the same lock (an external
///   `VACUUM`, a long transaction) heart-beats as soon as the lock is free, well before the
///   first process to get the lock has been writable for a lease.
struct LeaseWatch {
    let lease: Double
    let maxGap: Double
    private(set) var lastRenewal: Double?
    private(set) var writableSince: Double?
    /// Process id → (heartbeat value last seen, nil when it had no row; when it was first seen).
    private var seen: [String: (value: Double?, since: Double)] = [:]

    init(lease: Double) {
        self.lease = lease
        self.maxGap = lease * 0.6  // heartbeats come every lease / 3 (at most 2 s)
    }

    /// A heartbeat committed at `now`.
    mutating func renewed(at now: Double) {
        if let last = lastRenewal, now - last <= maxGap, writableSince != nil {
            // The stretch goes on.
        } else {
            writableSince = now
        }
        lastRenewal = now
    }

    func canClaim(at now: Double) -> Bool {
        guard let last = lastRenewal else { return false }
        return now - last <= maxGap
    }

    /// Writable without a break for a whole lease, up to now.
    func writableForALease(at now: Double) -> Bool {
        guard let since = writableSince, let last = lastRenewal else { return false }
        return now - last <= maxGap && now - since >= lease
    }

    /// Records what one read of the leases saw at `now`; answers the owners (never `me`) whose
    /// heartbeat has not changed for a lease, with the value to check again under the write lock
    /// (empty unless this process has been writable for a lease).
    mutating func observe(_ view: LeaseView, me: String, at now: Double) -> [String: Double?] {
        var current: [String: Double?] = [:]
        for (id, value) in view.heartbeats where id != me { current[id] = value }
        for owner in view.runningOwners where owner != me && current[owner] == nil { current[owner] = .some(nil) }
        var next: [String: (value: Double?, since: Double)] = [:]
        var stale: [String: Double?] = [:]
        for (id, value) in current {
            if let old = seen[id], old.value == value {
                next[id] = old
                if now - old.since >= lease { stale[id] = value }
            } else {
                next[id] = (value, now)
            }
        }
        seen = next
        return writableForALease(at: now) ? stale : [:]
    }
}
