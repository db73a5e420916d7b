@testable import CrescentRuntime
import CrescentStore
import Testing

/// The lease rules on an injected monotonic clock (seconds).
struct LeaseWatchTests {
    func view(_ beats: [String: Double], running: Set<String> = []) -> LeaseView {
        LeaseView(heartbeats: beats, runningOwners: running)
    }

    @Test func rescuesOnlyAfterALeaseOfUnchangedHeartbeatAndOwnWrites() {
        var w = LeaseWatch(lease: 10)
        for t in stride(from: 0.0, through: 9, by: 1) { w.renewed(at: t) }
        #expect(w.observe(view(["me": 1, "p": 100]), me: "me", at: 0).isEmpty)
        #expect(w.observe(view(["me": 1, "p": 100]), me: "me", at: 9).isEmpty, "not yet a lease")
        w.renewed(at: 10)
        #expect(w.observe(view(["me": 1, "p": 100]), me: "me", at: 10) == ["p": 100])
        // A changed value (whatever it is: a clock stepped back writes a smaller one) starts over.
        #expect(w.observe(view(["me": 1, "p": 50]), me: "me", at: 10.5).isEmpty)
        w.renewed(at: 11)
        #expect(w.observe(view(["me": 1, "p": 50]), me: "me", at: 11).isEmpty)
    }

    @Test func aRescuerThatCouldNotWriteWaitsALeaseAfterItCanAgain() {
        var w = LeaseWatch(lease: 10)
        w.renewed(at: 0)
        #expect(w.observe(view(["p": 100]), me: "me", at: 0).isEmpty)
        // Blocked on a lock for 30 s (reads still work): the owner looks unchanged meanwhile.
        #expect(w.observe(view(["p": 100]), me: "me", at: 20).isEmpty)
        w.renewed(at: 30)
        #expect(!w.writableForALease(at: 30))
        #expect(w.observe(view(["p": 100]), me: "me", at: 30).isEmpty, "writable for 0 s only")
        #expect(w.canClaim(at: 30))
        #expect(!w.canClaim(at: 37), "no renewal for over half a lease: no new attempts")
    }

    @Test func ownersWithoutARowAreWatchedToo() {
        var w = LeaseWatch(lease: 2)
        for t in stride(from: 0.0, through: 4, by: 0.5) { w.renewed(at: t) }
        #expect(w.observe(view([:], running: ["gone", "me"]), me: "me", at: 2).isEmpty)
        let stale = w.observe(view([:], running: ["gone", "me"]), me: "me", at: 4)
        #expect(Array(stale.keys) == ["gone"])
        #expect(stale["gone"] == .some(nil), "no row: checked again as still absent")
    }
}
