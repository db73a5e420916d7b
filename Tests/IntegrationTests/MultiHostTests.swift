import CrescentCore
import Foundation
import Testing

/// Three hosts (network namespaces, MultiHostSupport.swift) sharing one PostgreSQL server over
/// TCP: a host killed mid-drain, a host cut off past its lease, schedules fired by every host,
/// two versions of a task file, the server restarted under load. Each scenario asserts that no
/// job is lost and none is committed twice, and prints its figures. Run by `make test` as a
/// step of its own (scripts/test.sh); skipped, with the reason, where namespaces cannot be made.
@Suite(.serialized) struct MultiHostTests {
    /// A host's crescent.toml: short leases so that a scenario takes seconds.
    static func config(_ url: String, lease: String = "2s", concurrency: Int = 8, level: String = "info") -> String {
        """
        database = "\(url)"
        [workers]
        threads = 2
        lease = "\(lease)"
        shutdown_timeout = "3s"
        [[queues]]
        name = "default"
        concurrency = \(concurrency)
        [log]
        format = "json"
        level = "\(level)"
        """
    }

    /// The CLI's config: `status` calls a process lost after 1 s without a heartbeat (the runners
    /// beat every 2/3 s), so a lost host shows before the others' 2 s lease lets them rescue it.
    static func cliConfig(_ url: String) -> String { config(url, lease: "1s") }

    static func seconds(_ d: Double) -> String { String(format: "%.1f s", d) }

    // MARK: host crash

    static let crashTasks = ["work.lua": """
        return {
          retry = { attempts = 5, backoff = "fixed", delay = "100ms", jitter = 0 },
          handler = function(job) sleep("10ms") return job.args.i end,
        }
        """]

    /// `kill -9` every process of one host while 20,000 jobs drain: the two others rescue the
    /// jobs it had running once its lease ran out; every job succeeds exactly once; the re-runs
    /// are exactly the jobs it had in flight; `status` shows the dead process as lost (with the
    /// jobs it was running) until it is rescued, then no longer.
    @Test func hostCrashDuringADrain() throws {
        try withHosts(config: { Self.config($0) }, localConfig: Self.cliConfig, tasks: { _ in Self.crashTasks }) { try crash($0) }
    }

    func crash(_ mh: MultiHost) throws {
            let total = 20_000
            for i in 0..<3 { try mh.start(i) }
            #expect(waitFor(timeout: 60, every: 0.2) { mh.int("SELECT count(*) FROM processes") == 3 }, "three runners registered")
            let started = Date()
            mh.insertJobs("work", total)
            let succeeded = { mh.int("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'") }
            #expect(waitFor(timeout: 120, every: 0.1) { succeeded() >= total / 5 }, "a fifth drained")
            let victim = 2
            let victimID = try #require(mh.processID(victim))
            let killed = mh.crash(victim)
            let killedAt = Date()
            let doneAtKill = succeeded()
            let inFlight = mh.int("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = '\(victimID)'")

            // `status` while the others have not yet rescued: the dead process is lost, its jobs running.
            var seenLost = false, shownBusy = 0, polls = 0
            var rescuedAt: Date?
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline && polls < 600 {
                polls += 1
                if let procs = try mh.statusProcesses(), let row = procs.first(where: { $0["id"]?.stringValue == victimID }) {
                    if row["lost"] == .bool(true) { seenLost = true; shownBusy = max(shownBusy, Int(row["busy"]?.intValue ?? 0)) }
                }
                if mh.int("SELECT count(*) FROM jobs WHERE state = 'running' AND lease_owner = '\(victimID)'") == 0 {
                    rescuedAt = Date()
                    break
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            let drained = waitFor(timeout: 300, every: 0.25) { succeeded() == total }
            let drainSeconds = Date().timeIntervalSince(started)
            let after = try mh.statusProcesses() ?? []
            let l = mh.ledger("work")
            let recover = rescuedAt.map { $0.timeIntervalSince(killedAt) } ?? -1
            let stops = mh.stopRunners()
            let logs = mh.hosts.prefix(2).map { $0.runner?.err.text() ?? "" }.joined()
            print("""
                multi-host crash: \(total) jobs, 3 hosts, 1 killed (\(killed) processes, kill -9) after \(doneAtKill) jobs; \
                in flight on it \(inFlight); rescued \(l.workerLost) (worker lost runs); lost \(total - l.succeeded); \
                duplicates \(l.doubleCommitted); runs \(l.runs) (re-runs \(l.runs - l.jobs)); status showed it lost \(seenLost) \
                (busy \(shownBusy)); time to recover (kill → rescued) \(Self.seconds(recover)); drain \(Self.seconds(drainSeconds))
                """)
            #expect(killed >= 1)
            #expect(drained, "every job succeeded")
            #expect(l.jobs == total && l.succeeded == total, "nothing lost")
            #expect(l.doubleCommitted == 0, "no job committed twice")
            #expect(l.workerLost == inFlight, "exactly the jobs it had in flight were rescued")
            #expect(l.runs - l.jobs == inFlight, "re-runs bounded by what it had in flight")
            #expect(rescuedAt != nil, "its jobs were rescued")
            #expect(seenLost, "status showed the dead process as lost")
            #expect(inFlight == 0 || shownBusy > 0, "status showed it busy with jobs")
            #expect(!after.contains { $0["id"]?.stringValue == victimID }, "after the rescue its row is gone")
            #expect(after.count == 2)
            #expect(logs.contains("rescued jobs of a lost process"))
            #expect(stops == [0, 0], "the two others stopped cleanly")
    }
}
