import CrescentCore
import CrescentStore
import Foundation
import Testing

/// What a process row shows (Crescent version, job slots, resident memory) and how a lost
/// process stays listed: marked lost by the rescue with what was taken from it, never counted
/// alive, pruned after its hour, replaced when its id registers again. Both stores alike.
@Suite("Store: process rows, lost processes")
struct ProcessRowsStoreTests {
    func register(_ store: any JobStore, _ id: String, at start: Date = Date().addingTimeInterval(-100)) throws {
        try store.processRegister(WorkerProcess(id: id, host: "h", pid: 7, queues: ["default"], startedAt: start,
                                                heartbeatAt: start, version: "1.2.3", capacity: 20, rssBytes: 42_100_000))
    }

    /// The rescue as a runner does it: every owner but `me` whose heartbeat the view saw.
    func rescueAll(_ store: any JobStore, except me: String) throws -> [Int64] {
        let view = try store.leaseView()
        var stale: [String: Double?] = [:]
        for (id, beat) in view.heartbeats where id != me { stale[id] = beat }
        for owner in view.runningOwners where owner != me && stale[owner] == nil { stale.updateValue(nil, forKey: owner) }
        return try store.jobRescue(stale: stale) { _ in Date() }
    }

    @Test func versionCapacityAndMemoryAreStoredAndRefreshedByTheHeartbeat() throws {
        try withStore { store in
            try register(store, "p1")
            var p = try #require(try store.processList().first)
            #expect(p.version == "1.2.3" && p.capacity == 20 && p.rssBytes == 42_100_000)
            #expect(p.lostAt == nil && p.rescuedCount == 0 && p.rescuedJobs.isEmpty)
            #expect(try store.leaseRenew(processID: "p1", beat: ProcessBeat(busy: 3, capacity: 2, rssBytes: 50_000_000), now: Date()))
            p = try #require(try store.processList().first)
            #expect(p.busy == 3 && p.capacity == 2 && p.rssBytes == 50_000_000)
            // A beat without them leaves them as they were.
            #expect(try store.leaseRenew(processID: "p1", busy: 1, now: Date()))
            p = try #require(try store.processList().first)
            #expect(p.busy == 1 && p.capacity == 2 && p.rssBytes == 50_000_000)
            // Unknown memory is nil, not 0.
            try store.processRegister(WorkerProcess(id: "p2", host: "h", pid: 8, queues: [], startedAt: Date(), heartbeatAt: Date()))
            #expect(try store.processList().first { $0.id == "p2" }?.rssBytes == nil)
        }
    }

    @Test func aRescuedProcessIsListedLostWithItsJobsAndCountedAliveNowhere() throws {
        try withStore { store in
            try register(store, "alive")
            try register(store, "gone")
            _ = try store.jobInsertMany((0..<3).map { _ in job() })
            let taken = try store.claimAll(worker: "gone", limit: 3).map(\.id)
            #expect(try store.processRequest(id: "gone", .quiet, now: Date()))

            #expect(try rescueAll(store, except: "alive") == taken)
            #expect(try store.processList().map(\.id) == ["alive"], "a lost process is not alive")
            let listed = try store.processList(includingLost: true)
            #expect(listed.map(\.id) == ["alive", "gone"], "lost ones listed after the live ones")
            let lost = listed[1]
            let lostAt = try #require(lost.lostAt)
            #expect(abs(lostAt.timeIntervalSinceNow) < 60)
            #expect(lost.rescuedCount == 3 && lost.rescuedJobs == taken)
            #expect(lost.version == "1.2.3" && lost.capacity == 20, "what it was is kept")
            // Not a lease any more, no requests, no heartbeat, no new request.
            #expect(try store.leaseView().heartbeats.keys.sorted() == ["alive"])
            #expect(try store.processRequests()["gone"] == nil)
            #expect(try store.processRequests(id: "gone").isEmpty, "its requests went with its lease")
            #expect(try store.processRequest(id: "gone", .stop, now: Date()) == false)
            #expect(try store.leaseRenew(processID: "gone", busy: 0, now: Date()) == false)
            // A second rescue of it finds nothing and leaves the row as it was.
            #expect(try rescueAll(store, except: "alive").isEmpty)
            #expect(try store.processList(includingLost: true)[1] == lost)

            // Jobs it still claimed afterwards (a zombie) are rescued too and added to its row.
            _ = try store.jobInsert(job())
            let late = try store.claimAll(worker: "gone", limit: 1).map(\.id)
            #expect(try rescueAll(store, except: "alive") == late)
            let after = try store.processList(includingLost: true)[1]
            #expect(after.lostAt == lost.lostAt, "lost since the first rescue")
            #expect(after.rescuedCount == 4 && after.rescuedJobs == taken + late)

            // The same id registering again replaces the lost row: alive, nothing rescued.
            try register(store, "gone", at: Date())
            let back = try #require(try store.processList().first { $0.id == "gone" })
            #expect(back.lostAt == nil && back.rescuedCount == 0 && back.rescuedJobs.isEmpty)
            #expect(try store.processList(includingLost: true).count == 2)
            #expect(try store.leaseRenew(processID: "gone", busy: 0, now: Date()))
            #expect(try store.processRequest(id: "gone", .quiet, now: Date()))
        }
    }

    @Test func anIdleLostProcessIsListedWithNothingRescued() throws {
        try withStore { store in
            try register(store, "idle")
            #expect(try rescueAll(store, except: "me").isEmpty)
            let row = try #require(try store.processList(includingLost: true).first)
            #expect(row.id == "idle" && row.lostAt != nil && row.rescuedCount == 0 && row.rescuedJobs.isEmpty)
            #expect(try store.processList().isEmpty)
        }
    }

    @Test func theRescuedIdsKeptAreBoundedAndTheCountIsNot() throws {
        try withStore { store in
            try register(store, "big")
            let n = WorkerProcess.rescuedJobsKept + 30
            _ = try store.jobInsertMany((0..<n).map { _ in job() })
            let taken = try store.claimAll(worker: "big", limit: n).map(\.id).sorted()
            #expect(try rescueAll(store, except: "me").count == n)
            let row = try #require(try store.processList(includingLost: true).first)
            #expect(row.rescuedCount == n)
            #expect(row.rescuedJobs == Array(taken.prefix(WorkerProcess.rescuedJobsKept)))
        }
    }

    @Test func aLostRowIsShownForAnHour() {
        let now = Date()
        var p = WorkerProcess(id: "p", host: "h", pid: 1, queues: [], startedAt: now, heartbeatAt: now)
        #expect(p.isListed(at: now), "alive")
        p.lostAt = now.addingTimeInterval(-WorkerProcess.lostRetention + 5)
        #expect(p.isListed(at: now))
        p.lostAt = now.addingTimeInterval(-WorkerProcess.lostRetention - 5)
        #expect(!p.isListed(at: now), "past its hour, even before a Pruner deletes it")
    }

    @Test func lostRowsArePrunedAfterTheirTimeLiveOnesNever() throws {
        try withStore { store in
            for id in ["a", "b", "c"] { try register(store, id) }
            try register(store, "live")
            _ = try rescueAll(store, except: "live")
            #expect(try store.processList(includingLost: true).filter { $0.lostAt != nil }.count == 3)
            // Not yet: lost just now.
            #expect(try store.processPruneLost(before: Date().addingTimeInterval(-3600), limit: 10) == 0)
            // Their time is over: a bounded statement takes them, a batch at a time.
            let later = Date().addingTimeInterval(60)
            #expect(try store.processPruneLost(before: later, limit: 2) == 2)
            #expect(try store.processPruneLost(before: later, limit: 2) == 1)
            #expect(try store.processPruneLost(before: later, limit: 2) == 0)
            #expect(try store.processList(includingLost: true).map(\.id) == ["live"])
        }
    }
}
