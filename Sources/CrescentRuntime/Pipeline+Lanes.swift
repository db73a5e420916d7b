import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

/// The cycle of a store with concurrent writers (PostgreSQL): two threads, each with its own
/// transactions on its own connection, so that the server works on both at once (one
/// transaction doing both left one backend busy and the other core mostly waiting).
///
/// - The completion thread writes the outcomes reported so far, fenced as ever, in one
///   transaction; once it has committed, their slots are free and the claim thread is woken.
/// - The claim thread claims up to the free slots (`max_jobs`, `--limit` and each queue's
///   concurrency counted as in one cycle) and hands the jobs to the workers.
///
/// Only the claim thread raises the counts of jobs in flight and only the completion thread
/// lowers them, after its commit: a slot is never claimed again before the completion that
/// freed it is durable, and a claim planned from older counts claims less, never more.
extension Pipeline {
    func claimLoop() {
        var lastRefresh = Date.distantPast
        while true {
            if claimsUncertain { reconcileClaims() }
            // Read before claiming, so a commit by another process during the claims is seen.
            let version = try? store.wakeToken()
            let claiming = mayClaim(lastRefresh: &lastRefresh)

            cond.lock()
            if finishing { cond.unlock(); return }
            // Completions committed from here on wake the wait below.
            slotsFreed = false
            let (wants, budget, excluded) = plan(claiming: claiming, freed: [])
            cond.unlock()

            let claimedAt = Date()
            var claimed: [[Job]] = []
            if !wants.isEmpty {
                let claims = wants.map {
                    JobClaimParams(queue: $0.name, limit: $0.limit, worker: processID, now: claimedAt, excludeTasks: excluded)
                }
                do {
                    claimed = try store.jobCompleteAndClaim([], claims: claims, claimBudget: budget).claimed
                    claimOutage.succeeded(logger: logger)
                } catch {
                    claimsUncertain = true
                    claimOutage.failed(error, logger: logger, consequence: "trying again; jobs wait meanwhile",
                                       metadata: ["queues": "\(wants.map(\.name))"])
                }
            }
            let claimedCount = cond.withLock { count(freed: [], wants: wants, claimed: claimed) }
            if claimedCount > 0 {
                handOff(Taken(results: [], items: [], releasing: nil, freed: []), completions: [], applied: [], conflicts: [],
                        wants: wants, claimed: claimed, claimedAt: claimedAt)
            } else {
                waitForSlots(version: version)
            }
        }
    }

    func completionLoop() {
        while true {
            cond.lock()
            while results.isEmpty && !finishing { outcomesArrived.wait() }
            if results.isEmpty { cond.unlock(); return }  // shutdown is over
            let taken = takeResults()
            cond.unlock()

            let completions = completions(of: taken)
            var applied: [Bool] = []
            var conflicts: [Int] = []
            if !completions.isEmpty {
                do {
                    (applied, _, conflicts) = try store.jobCompleteAndClaim(completions, claims: [], claimBudget: 0)
                } catch {
                    (applied, conflicts) = completeRetrying(completions, after: error)
                }
            }
            cond.lock()
            _ = count(freed: taken.freed, wants: [], claimed: [])
            slotsFreed = true
            cond.signal()
            cond.unlock()
            handOff(taken, completions: completions, applied: applied, conflicts: conflicts, wants: [], claimed: [],
                    claimedAt: Date())
        }
    }

    /// The claim thread's idle wait: until completions free slots, a wake (a same-process
    /// enqueue or push), another connection's commit (the store's wake token moved), or
    /// `pollInterval` at most (jobs that become due with time). Once stopping, only the end
    /// of the shutdown ends it.
    private func waitForSlots(version: Int64?) {
        let deadline = Monotonic.now() + pollInterval
        cond.lock()
        defer {
            wakeRequested = false
            cond.unlock()
        }
        while !finishing {
            if stopping {
                cond.wait()
                continue
            }
            if wakeRequested || slotsFreed { return }
            let now = Monotonic.now()
            guard now < deadline else { return }
            guard let version else {
                cond.wait(seconds: deadline - now)
                continue
            }
            cond.wait(seconds: min(deadline - now, changePollInterval))
            if wakeRequested || slotsFreed || stopping || finishing { continue }
            cond.unlock()
            let current = try? store.wakeToken()
            cond.lock()
            if current != version { return }
        }
    }
}
