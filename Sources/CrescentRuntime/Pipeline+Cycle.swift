import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Logging

/// The cycle of a store with one writer (SQLite): one thread writes a cycle's outcomes and
/// claims in one transaction (see the type's comment); and the parts it shares with the two
/// threads of a store with concurrent writers (Pipeline+Lanes.swift).
extension Pipeline {
    /// Outcomes taken for one transaction, with the slots they free per queue.
    struct Taken {
        var results: [ExecResult]
        var items: [InFlight?]
        var releasing: Set<Int64>?
        var freed: [Int]
    }

    /// Queues in fetch order: configured (or `--queues`) first, then queues named by tasks, then
    /// queues that only jobs name (`enqueue --queue adhoc`, `queue.push(..., {queue = ...})`).
    private func refreshQueues(due: [String]) {
        guard !restricted else { return }
        let named = Set(registry.current.tasks.values.map(\.queue))
        for name in named.sorted() + due.sorted() where !queues.contains(where: { $0.name == name }) {
            queues.append(QueueSlot(name: name, concurrency: defaultConcurrency))
        }
    }

    /// Before a cycle's claims: whether it may claim (not stopping, the lease renewed); once
    /// a second, the queue list gains the queues that only due jobs name.
    func mayClaim(lastRefresh: inout Date) -> Bool {
        let allowed = canClaim?() ?? true
        let claiming = allowed && !cond.withLock { stopping }
        guard claiming, Date().timeIntervalSince(lastRefresh) > 1 else { return claiming }
        let due = restricted ? [] : ((try? store.dueQueues(now: Date())) ?? [])
        cond.withLock { refreshQueues(due: due) }
        lastRefresh = Date()
        return claiming
    }

    /// Under `cond`: takes the outcomes reported so far.
    func takeResults() -> Taken {
        let batch = results
        results.removeAll(keepingCapacity: true)
        let items = batch.map { running[$0.jobID] }
        var freed = [Int](repeating: 0, count: queues.count)
        for item in items { if let item { freed[item.queueIndex] += 1 } }
        return Taken(results: batch, items: items, releasing: releasing.isEmpty ? nil : releasing, freed: freed)
    }

    /// The store's completions of taken outcomes: one per item still running here, in order.
    func completions(of taken: Taken) -> [JobCompletion] {
        var completions: [JobCompletion] = []
        completions.reserveCapacity(taken.results.count)
        for (result, item) in zip(taken.results, taken.items) {
            guard let item else { continue }  // released at shutdown already
            if let releasing = taken.releasing, releasing.contains(item.id) {
                completions.append(JobCompletion(jobID: item.id, attempt: item.attempt, worker: processID, startedAt: item.startedAt,
                                                 finishedAt: result.finishedAt, outcome: .released))
                continue
            }
            completions.append(completion(for: result, of: item))
        }
        return completions
    }

    /// Under `cond`: what to claim per queue, counting as free the slots `freed` by
    /// completions written in the same transaction, and the budget of all the claims
    /// (`--limit`, `max_jobs`); marks the claims under way (`claimingCycle`).
    func plan(claiming: Bool, freed: [Int]) -> (wants: [Want], budget: Int, excluded: [String]) {
        // `--limit` budget: spent on what is actually claimed, so an empty queue earlier in
        // the order does not hold it back from the queues after it.
        var budget = maxRuns.map { $0 - started } ?? Int.max
        // `max_jobs`: the process-wide cap; claims go in queue order, so the first queue with
        // due jobs takes the free slots.
        if let maxJobs { budget = min(budget, maxJobs - queues.reduce(0) { $0 + $1.inFlight } + freed.reduce(0, +)) }
        var wants: [Want] = []
        if claiming && budget > 0 {
            for (i, q) in queues.enumerated() {
                let free = q.concurrency - q.inFlight + (i < freed.count ? freed[i] : 0)
                if free > 0 { wants.append(Want(index: i, name: q.name, limit: min(batchLimit, free))) }
            }
        }
        if !missingTasks.isEmpty {
            let loaded = registry.current.tasks
            missingTasks = missingTasks.filter { loaded[$0] == nil }
        }
        claimingCycle = !wants.isEmpty
        return (wants, budget, missingTasks.sorted())
    }

    /// Under `cond`, after a transaction: its completions' slots freed, its claims counted.
    func count(freed: [Int], wants: [Want], claimed: [[Job]]) -> Int {
        let claimedCount = claimed.reduce(0) { $0 + $1.count }
        for (i, n) in freed.enumerated() where n > 0 { queues[i].inFlight -= n }
        for (want, jobs) in zip(wants, claimed) { queues[want.index].inFlight += jobs.count }
        started += claimedCount
        handing += claimedCount
        if !wants.isEmpty { claimingCycle = false }
        return claimedCount
    }

    /// After a commit, on the handoff queue: the written outcomes forgotten and reported, the
    /// claimed jobs handed to the workers.
    func handOff(_ taken: Taken, completions: [JobCompletion], applied: [Bool], conflicts: [Int], wants: [Want],
                 claimed: [[Job]], claimedAt: Date) {
        let batch = taken.results
        guard !batch.isEmpty || claimed.contains(where: { !$0.isEmpty }) else { return }
        handoff.async { [self] in
            if !batch.isEmpty { finish(batch, items: taken.items, completions: completions, applied: applied, conflicts: conflicts) }
            for (want, jobs) in zip(wants, claimed) where !jobs.isEmpty {
                dispatch(jobs, queueIndex: want.index, claimedAt: claimedAt)
            }
        }
    }

    func cycleLoop() {
        var lastRefresh = Date.distantPast
        while true {
            if claimsUncertain { reconcileClaims() }
            // Read before claiming, so a commit by another process during the claims is seen.
            let version = try? store.wakeToken()
            let claiming = mayClaim(lastRefresh: &lastRefresh)

            cond.lock()
            if finishing && results.isEmpty { cond.unlock(); return }
            let taken = takeResults()
            // The slots this cycle's outcomes free are claimed again in the same transaction.
            let (wants, budget, excluded) = plan(claiming: claiming, freed: taken.freed)
            cond.unlock()

            let completions = completions(of: taken)
            let claimedAt = Date()
            let claims = wants.map {
                JobClaimParams(queue: $0.name, limit: $0.limit, worker: processID, now: claimedAt, excludeTasks: excluded)
            }
            var applied: [Bool] = []
            var claimed: [[Job]] = []
            var conflicts: [Int] = []
            var failure: (any Error)?
            if !completions.isEmpty || !claims.isEmpty {
                do {
                    (applied, claimed, conflicts) = try store.jobCompleteAndClaim(completions, claims: claims, claimBudget: budget)
                } catch {
                    failure = error
                }
            }
            // The slots, now: the next cycle claims from these counts.
            let claimedCount = cond.withLock { count(freed: taken.freed, wants: wants, claimed: claimed) }
            if let failure {
                if !claims.isEmpty { claimsUncertain = true }
                if completions.isEmpty {
                    claimOutage.failed(failure, logger: logger, consequence: "trying again; jobs wait meanwhile",
                                       metadata: ["queues": "\(wants.map(\.name))"])
                } else {
                    (applied, conflicts) = completeRetrying(completions, after: failure)
                }
            } else if !claims.isEmpty {
                claimOutage.succeeded(logger: logger)
            }

            handOff(taken, completions: completions, applied: applied, conflicts: conflicts, wants: wants, claimed: claimed,
                    claimedAt: claimedAt)
            if taken.results.isEmpty && claimedCount == 0 { waitForWork(version: version) }
        }
    }

    /// A transaction with completions failed: the completions alone, retried until they
    /// commit (an outcome is never dropped); claims wait for the next cycle.
    func completeRetrying(_ completions: [JobCompletion], after error: any Error) -> (applied: [Bool], conflicts: [Int]) {
        var error = error
        var delay = 0.05
        var outage = StoreOutage("completion")
        while true {
            // Shutdown is over (its deadline passed): say what was not written and stop trying.
            if cond.withLock({ finishing }) {
                logger.error("could not write these outcomes before stopping; their jobs run again once the lease expires", metadata: [
                    "error": "\(error)", "job.ids": "\(completions.map { String($0.jobID) }.joined(separator: ","))",
                ])
                return (Array(repeating: false, count: completions.count), [])
            }
            outage.failed(error, logger: logger, metadata: ["count": .stringConvertible(completions.count)])
            Thread.sleep(forTimeInterval: delay)
            delay = min(delay * 2, 2)
            do {
                let done = try store.jobCompleteAndClaim(completions, claims: [], claimBudget: 0)
                outage.succeeded(logger: logger)
                return (done.applied, done.conflicts)
            } catch let next {
                error = next
            }
        }
    }

    /// Idle wait: until outcomes arrive, a wake (a same-process enqueue or push), another
    /// connection's commit (`PRAGMA data_version` moved: `crescent enqueue`, another runner),
    /// or `pollInterval` at most (jobs that become due with time). Once stopping, only
    /// outcomes and the end of the shutdown end it.
    private func waitForWork(version: Int64?) {
        let deadline = Monotonic.now() + pollInterval
        cond.lock()
        defer {
            wakeRequested = false
            cond.unlock()
        }
        while results.isEmpty && !finishing {
            if stopping {
                cond.wait()
                continue
            }
            if wakeRequested { return }
            let now = Monotonic.now()
            guard now < deadline else { return }
            guard let version else {
                cond.wait(seconds: deadline - now)
                continue
            }
            cond.wait(seconds: min(deadline - now, changePollInterval))
            if wakeRequested || !results.isEmpty || stopping { continue }
            cond.unlock()
            let current = try? store.wakeToken()
            cond.lock()
            if current != version { return }
        }
    }
}
