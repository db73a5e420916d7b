import CrescentCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Crashes (`kill -9`), stalls (SIGSTOP), several processes on one database, and retention,
/// all against the real binary. Every check is on the final state of the database; polling
/// loops only decide when to look, never whether a test passes.
@Suite(.serialized) struct ReliabilityTests {
    static func config(concurrency: Int = 16, retention: String = "") -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 2
        lease = "2s"
        shutdown_timeout = "2s"
        [[queues]]
        name = "default"
        concurrency = \(concurrency)
        [log]
        format = "json"
        level = "warn"
        \(retention)
        """
    }

    /// Pushes `args.n` jobs of `args.task` (default `work`), each `{i = i}` (plus `pad`).
    static let seed = """
        return {
          queue = "seed",
          handler = function(job)
            local task = job.args.task or "work"
            for i = 1, job.args.n do queue.push(task, { i = i, pad = job.args.pad }) end
            return job.args.n
          end,
        }
        """

    static func work(sleep: String?) -> String {
        """
        return {
          retry = { attempts = 50, backoff = "fixed", delay = "100ms", jitter = 0 },
          handler = function(job)
            \(sleep.map { "sleep(\"\($0)\")" } ?? "")
            return job.args.i
          end,
        }
        """
    }

    /// Seeds `n` jobs through the seed task and a `run --queues seed --limit 1`.
    func seed(_ p: Project, n: Int, task: String = "work", pad: Int = 0) throws {
        let padJSON = pad > 0 ? ", \"pad\": \"\(String(repeating: "x", count: pad))\"" : ""
        let e = try p.run(["enqueue", "seed", "--args", "{\"n\": \(n), \"task\": \"\(task)\"\(padJSON)}"])
        #expect(e.code == 0, "\(e.stderr)")
        let r = try p.run(["run", "--queues", "seed", "--limit", "1"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = '\(task)'") == n)
    }

    // MARK: 1 + 5: kill -9 while draining

    /// A few thousand jobs drained by a runner that is `kill -9`ed five times and restarted:
    /// every job ends `succeeded` exactly once, none is lost, and the re-runs stay within
    /// what was in flight at the kills.
    @Test func drainThroughRepeatedKills() throws {
        let n = 3000
        let concurrency = 16
        let p = try Project(config: Self.config(concurrency: concurrency), tasks: [
            "seed.lua": Self.seed, "work.lua": Self.work(sleep: "50ms"),
        ])
        try seed(p, n: n)

        let killAt = [0.10, 0.25, 0.40, 0.55, 0.70].map { Int(Double(n) * $0) }
        var kills = 0
        var inFlightAtKills = 0
        var stderrs: [String] = []
        for threshold in killAt {
            let runner = try Background(p, ["run", "--queues", "default"])
            // Kill once past the threshold while this runner has jobs in flight.
            let mine = "lease_owner LIKE '%:\(runner.pid):%'"
            let reached = waitFor(timeout: 90, every: 0.02) {
                p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'") >= threshold
                    && p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'running' AND \(mine)") > 0
            }
            runner.kill9()
            // What the dead runner had in flight stays `running` (owned by it) until a rescue.
            let running = p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'running' AND \(mine)")
            stderrs.append(runner.err.text())
            #expect(reached, "the runner reached \(threshold) finished jobs before its kill")
            if !reached {
                print("runner \(kills + 1) (pid \(runner.pid)) log tail:\n\(stderrs.last!.split(separator: "\n").suffix(10).joined(separator: "\n"))")
                print("processes: \(p.sql("SELECT id, heartbeat_at FROM processes")); running: \(p.sql("SELECT lease_owner, count(*) FROM jobs WHERE state = 'running' GROUP BY 1"))")
            }
            #expect(runner.process.terminationReason == .uncaughtSignal)
            kills += 1
            inFlightAtKills += running
            print("kill \(kills) at \(threshold)+ succeeded, \(running) running at the kill")
        }
        let last = try Background(p, ["run", "--queues", "default"])
        let drained = waitFor(timeout: 120, every: 0.1) {
            p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'") == n
        }
        // The dead runners' rows are marked lost once their lease has expired (with or without
        // jobs), and stay listed for an hour with what was rescued from them.
        let cleaned = waitFor(timeout: 30, every: 0.1) {
            p.sqlInt("SELECT count(*) FROM processes WHERE lost_at IS NULL") == 1
                && p.sqlInt("SELECT count(*) FROM processes WHERE lost_at IS NOT NULL") == kills
        }
        let lastCode = last.interrupt()
        stderrs.append(last.err.text())
        #expect(lastCode == 0)
        #expect(drained, "every job finished")
        if lastCode != 0 || !drained {
            for (i, text) in stderrs.enumerated() { print("runner \(i + 1) log tail:\n\(text.split(separator: "\n").suffix(15).joined(separator: "\n"))") }
        }

        let total = p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'work'")
        let succeeded = p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'")
        let distinct = p.sqlInt("SELECT count(DISTINCT json_extract(args, '$.i')) FROM jobs WHERE task = 'work'")
        let reruns = p.sqlInt("SELECT COALESCE(sum(attempt - 1), 0) FROM jobs WHERE task = 'work'")
        let lost = p.sqlInt("SELECT count(*) FROM runs WHERE outcome = 'aborted' AND error = 'worker lost'")
        let successRuns = p.sqlInt("SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'work' AND r.outcome = 'succeeded'")
        let maxSuccess = p.sqlInt("""
            SELECT COALESCE(max(c), 0) FROM (SELECT count(*) c FROM runs r JOIN jobs j ON j.id = r.job_id
            WHERE j.task = 'work' AND r.outcome = 'succeeded' GROUP BY r.job_id) AS per_job
            """)
        let otherOutcomes = p.sqlInt("""
            SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'work'
              AND NOT (r.outcome = 'succeeded' OR (r.outcome = 'aborted' AND r.error = 'worker lost'))
            """)
        let integrity = p.integrityCheck()
        print("""
            crash drain: \(n) jobs, \(kills) kills (kill -9), \(n - succeeded) lost, \(reruns) re-runs \
            (in flight at the kills \(inFlightAtKills), bound \(kills * concurrency)), \(lost) runs aborted 'worker lost', \(successRuns) successful runs, \
            integrity \(integrity)
            """)
        #expect(total == n, "no job lost or duplicated")
        #expect(distinct == n)
        #expect(succeeded == n)
        #expect(successRuns == n, "each job succeeded exactly once")
        #expect(maxSuccess == 1)
        #expect(reruns == lost, "every re-run follows a rescue")
        #expect(reruns <= inFlightAtKills, "re-runs bounded by what was in flight at the kills")
        #expect(inFlightAtKills <= kills * concurrency)
        #expect(otherOutcomes == 0)
        #expect(integrity == "ok")
        #expect(cleaned, "dead processes' rows were marked lost")
        #expect(p.sqlInt("SELECT count(*) FROM processes WHERE lost_at IS NULL") == 0, "the last runner deregistered")
        #expect(p.sqlInt("SELECT count(*) FROM processes") == kills, "the lost ones stay listed")
        #expect(p.sqlInt("SELECT COALESCE(sum(rescued_count), 0) FROM processes") == lost,
                "each rescued attempt is recorded on the row of the process it was taken from")
        for text in stderrs { #expect(!mentionsLockErrors(text)) }
    }

    // MARK: 5: kill -9 during an enqueue burst

    /// Many `crescent enqueue` processes and handlers pushing in a loop while the runner is
    /// `kill -9`ed twice: every acknowledged job exists afterwards and runs; each fan-out
    /// job's pushes exist exactly once (an attempt that died pushed nothing).
    @Test func killDuringEnqueueBurst() throws {
        let fanouts = 6, children = 200
        let p = try Project(config: Self.config(), tasks: [
            "work.lua": Self.work(sleep: "5ms"),
            "child.lua": "return { handler = function(job) return job.args.i end }",
            "fanout.lua": """
                return {
                  retry = { attempts = 20, backoff = "fixed", delay = "100ms", jitter = 0 },
                  handler = function(job)
                    for i = 1, \(children) do
                      queue.push("child", { parent = job.id, i = i })
                      if i % 20 == 0 then sleep("40ms") end
                    end
                    return "pushed"
                  end,
                }
                """,
        ])
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // the schema exists before the burst (read-only commands create none)

        // Enqueue processes, six at a time, on a background thread.
        final class Acks: @unchecked Sendable {
            let lock = NSLock()
            var ids: [Int64] = []
            var failures: [String] = []
            var done = false
        }
        let acks = Acks()
        let enqueuers = Thread {
            let group = DispatchGroup()
            let slots = DispatchSemaphore(value: 6)
            for i in 0..<60 {
                slots.wait()
                group.enter()
                DispatchQueue.global().async {
                    defer { slots.signal(); group.leave() }
                    let task = i < fanouts ? "fanout" : "work"
                    guard let r = try? p.run(["enqueue", task, "--args", "{\"i\": \(i)}"]) else { return }
                    acks.lock.lock()
                    if r.code == 0, let id = Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) {
                        acks.ids.append(id)
                    } else {
                        acks.failures.append("exit \(r.code): \(r.stderr)")
                    }
                    acks.lock.unlock()
                }
            }
            group.wait()
            acks.lock.lock(); acks.done = true; acks.lock.unlock()
        }
        enqueuers.start()

        var kills = 0
        var killedMidFanout = 0
        for _ in 0..<2 {
            let runner = try Background(p, ["run"])
            // Kill while a fan-out handler is in its push loop, or once the burst is over.
            _ = waitFor(timeout: 60, every: 0.01) {
                p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'fanout' AND state = 'running'") > 0
                    || acks.lock.withLock { acks.done }
            }
            Thread.sleep(forTimeInterval: 0.1)
            if p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'fanout' AND state = 'running'") > 0 { killedMidFanout += 1 }
            runner.kill9()
            kills += 1
        }
        #expect(waitFor(timeout: 120) { acks.lock.withLock { acks.done } })
        let final = try Background(p, ["run"])
        let settled = waitFor(timeout: 120, every: 0.1) {
            p.sqlInt("""
                SELECT count(*) FROM jobs WHERE state = 'queued' OR state = 'running' OR state = 'retrying' OR state = 'scheduled'
                """) == 0 && p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'fanout' AND state = 'succeeded'") == fanouts
        }
        #expect(final.interrupt() == 0)
        #expect(settled, "every job finished")

        let ids = acks.lock.withLock { acks.ids }
        let failures = acks.lock.withLock { acks.failures }
        #expect(failures.isEmpty, "\(failures)")
        #expect(ids.count == 60)
        var missing = 0, notSucceeded = 0
        for chunk in stride(from: 0, to: ids.count, by: 200).map({ Array(ids[$0..<min($0 + 200, ids.count)]) }) {
            let list = chunk.map(String.init).joined(separator: ",")
            missing += chunk.count - p.sqlInt("SELECT count(*) FROM jobs WHERE id IN (\(list))")
            notSucceeded += p.sqlInt("SELECT count(*) FROM jobs WHERE id IN (\(list)) AND state != 'succeeded'")
        }
        let perParent = p.sql("""
            SELECT json_extract(args, '$.parent'), count(*), count(DISTINCT json_extract(args, '$.i'))
            FROM jobs WHERE task = 'child' GROUP BY 1 ORDER BY 1
            """)
        let pushed = p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'child'")
        let fanoutAborts = p.sqlInt("""
            SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'fanout' AND r.outcome = 'aborted'
            """)
        print("""
            enqueue burst: \(ids.count) acknowledged, \(missing) missing, \(notSucceeded) not succeeded; \(kills) kills \
            (\(killedMidFanout) during a fan-out); fan-out attempts lost \(fanoutAborts); \(pushed) pushed children \
            (expected \(fanouts * children))
            """)
        #expect(missing == 0, "every acknowledged job exists")
        #expect(notSucceeded == 0)
        #expect(pushed == fanouts * children, "each fan-out's pushes exist exactly once")
        #expect(perParent.count == fanouts)
        #expect(perParent.allSatisfy { $0.hasSuffix("|\(children)|\(children)") }, "\(perParent)")
        #expect(p.integrityCheck() == "ok")
    }

    // MARK: 1: leases and fencing

    /// A runner stalled past its lease (SIGSTOP) loses its job to another runner; when it
    /// wakes up, its late completion, push and store write are rejected.
    @Test func stalledOwnerIsFencedOut() throws {
        let p = try Project(config: Self.config(), tasks: [
            "slow.lua": """
                return {
                  retry = { attempts = 5, backoff = "fixed", delay = "50ms", jitter = 0 },
                  handler = function(job)
                    if job.attempt == 1 then sleep("4s") end
                    queue.push("mark", { attempt = job.attempt })
                    store.set("last", job.attempt)
                    return { attempt = job.attempt }
                  end,
                }
                """,
            "mark.lua": "return { handler = function(job) return job.args.attempt end }",
        ])
        let e = try p.run(["enqueue", "slow"])
        let id = try #require(Int64(e.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))

        let a = try Background(p, ["run"])
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM jobs WHERE id = \(id) AND state = 'running'") == 1 })
        kill(a.pid, SIGSTOP)
        let b = try Background(p, ["run"])
        let rescued = waitFor(timeout: 60, every: 0.1) {
            p.sqlInt("SELECT count(*) FROM jobs WHERE id = \(id) AND state = 'succeeded'") == 1
        }
        #expect(rescued, "the other runner rescued and ran the job")
        #expect(p.sql("SELECT rescued_count, rescued_jobs FROM processes WHERE lost_at IS NOT NULL") == ["1|[\(id)]"],
                "the stalled runner is listed lost with the job taken from it")
        kill(a.pid, SIGCONT)
        // The woken runner finds its lease gone and registers again, replacing its lost row.
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM processes WHERE lost_at IS NULL") == 2 })
        #expect(p.sqlInt("SELECT count(*) FROM processes") == 2)
        // Let its attempt end (its 4 s timer is long past) before stopping it; either way
        // (a late completion or a release at shutdown) it is fenced out.
        Thread.sleep(forTimeInterval: 1)
        #expect(a.interrupt() == 0)
        #expect(b.interrupt() == 0)
        let aLog = a.err.text()

        let job = try #require(try p.run(["job", "\(id)", "--json"]).json)
        #expect(job["state"] == .string("succeeded"))
        #expect(job["result"] == .object(["attempt": .int(2)]))
        #expect(job["attempt"] == .int(2), "the lost attempt counts")
        let runs = job["runs"]?.array ?? []
        #expect(runs.map { $0["outcome"] } == [.string("aborted"), .string("succeeded")])
        #expect(runs.first?["error"] == .string("worker lost"))
        #expect(runs.first?["worker"] != runs.last?["worker"])
        let marks = p.sql("SELECT json_extract(args, '$.attempt') FROM jobs WHERE task = 'mark' ORDER BY id")
        #expect(marks == ["2"], "only the winning attempt's push exists")
        #expect(p.sql("SELECT value FROM kv WHERE task = 'slow' AND key = 'last'") == ["2"])
        print("fencing: runs \(runs.map { "\($0["outcome"]?.stringValue ?? "?")" }), marks \(marks), stalled runner's late outcome rejected in its log: \(aLog.contains("rejected"))")
    }

    // MARK: 2: several processes on one file

    /// Three `run` processes drain one database while `crescent enqueue` processes write to
    /// it and an every-second schedule fires: no job runs twice, no occurrence fires twice,
    /// and no lock error reaches anyone.
    @Test func threeProcessesShareOneDatabase() throws {
        let n = 1500
        let p = try Project(config: Self.config(), tasks: [
            "seed.lua": Self.seed, "work.lua": Self.work(sleep: "30ms"),
            "tick.lua": "return { schedule = '* * * * * *', handler = function(job) return job.scheduled_for end }",
        ])
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        let runners = try (0..<3).map { _ in try Background(p, ["run"]) }
        #expect(waitFor(timeout: 60) { p.sqlInt("SELECT count(*) FROM processes") == 3 }, "three processes registered")
        #expect(try p.run(["enqueue", "seed", "--args", "{\"n\": \(n)}"]).code == 0)

        // Operators keep writing meanwhile.
        var cliErrors: [String] = []
        for i in 0..<12 {
            let r = try p.run(["enqueue", "work", "--args", "{\"i\": \(n + i + 1)}"])
            if r.code != 0 || mentionsLockErrors(r.stderr) { cliErrors.append("exit \(r.code): \(r.stderr)") }
        }
        let total = n + 12
        let drained = waitFor(timeout: 120, every: 0.1) {
            p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'") == total
        }
        let codes = runners.map { $0.interrupt() }
        let logs = runners.map { $0.err.text() }
        #expect(drained)
        #expect(codes == [0, 0, 0])
        #expect(cliErrors.isEmpty, "\(cliErrors)")
        for log in logs { #expect(!mentionsLockErrors(log), "\(log.prefix(2000))") }

        let distinct = p.sqlInt("SELECT count(DISTINCT id) FROM jobs WHERE task = 'work'")
        let runs = p.sqlInt("SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'work'")
        let maxRuns = p.sqlInt("""
            SELECT COALESCE(max(c), 0) FROM (SELECT count(*) c FROM runs r JOIN jobs j ON j.id = r.job_id
            WHERE j.task = 'work' GROUP BY r.job_id) AS per_job
            """)
        let overlaps = p.sqlInt("""
            SELECT count(*) FROM runs a JOIN runs b ON a.job_id = b.job_id AND a.id < b.id
            WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at
            """)
        let byWorker = p.sql("""
            SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'work' GROUP BY r.worker ORDER BY 1 DESC
            """)
        let ticks = p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'tick'")
        let distinctTicks = p.sqlInt("SELECT count(DISTINCT scheduled_for) FROM jobs WHERE task = 'tick'")
        print("""
            three processes: \(distinct) distinct jobs, \(runs) runs, max runs of one job \(maxRuns), \
            overlapping runs \(overlaps), runs per process \(byWorker); schedule: \(ticks) occurrences, \
            \(distinctTicks) distinct; lock errors shown: 0
            """)
        #expect(distinct == total)
        #expect(runs == total)
        #expect(maxRuns == 1)
        #expect(overlaps == 0)
        #expect(byWorker.count >= 2, "the work was shared")
        #expect(ticks == distinctTicks, "no occurrence fired twice")
        #expect(ticks >= 1)
    }

    // MARK: 4: retention

    /// The Pruner deletes succeeded jobs (with their runs) older than `[retention]
    /// succeeded`, keeps dead ones younger than `[retention] dead`, and the database's live
    /// size shrinks accordingly.
    @Test func prunerDeletesOldFinishedJobs() throws {
        let n = 2000
        let p = try Project(config: Self.config(retention: "[retention]\nsucceeded = \"2s\"\ndead = \"1h\""), tasks: [
            "seed.lua": Self.seed, "work.lua": Self.work(sleep: nil),
            "dies.lua": "return { retry = { attempts = 1 }, handler = function() error('no') end }",
        ])
        try seed(p, n: n, pad: 1000)
        for _ in 0..<5 { #expect(try p.run(["enqueue", "dies"]).code == 0) }
        let r = try p.run(["run", "--limit", "\(n + 5)"], timeout: 120)
        #expect(r.code == 0, "\(r.stderr)")
        // The seed job finished before this run: on a slow machine the Pruner's first pass
        // may already have removed it (it is older than the 2 s retention), so count the work.
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'succeeded' AND task = 'work'") == n)
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'dead'") == 5)

        func sizes() -> (file: Int, wal: Int, live: Int, pages: Int, free: Int) {
            guard TestStore.isSQLite else { return (0, 0, p.liveDataBytes(), 0, 0) }
            let pages = p.sqlInt("PRAGMA page_count"), free = p.sqlInt("PRAGMA freelist_count")
            return (p.fileSize(p.databasePath), p.fileSize(p.databasePath + "-wal"), p.liveDataBytes(), pages, free)
        }
        let before = sizes()
        let runsBefore = p.sqlInt("SELECT count(*) FROM runs")
        // Wait until every finished job is older than the retention, then start a runner:
        // it prunes as soon as it starts.
        #expect(waitFor(timeout: 30, every: 0.1) {
            let newest = Double(p.sql("SELECT max(finished_at) FROM jobs").first ?? "") ?? 0
            return Date().timeIntervalSince1970 - newest > 2.5
        })
        let runner = try Background(p, ["run"])
        let pruned = waitFor(timeout: 60, every: 0.1) { p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 0 }
        #expect(runner.interrupt() == 0)
        #expect(pruned)
        let after = sizes()
        let runsAfter = p.sqlInt("SELECT count(*) FROM runs")
        print("""
            retention: \(n + 1) succeeded jobs pruned, 5 dead kept; runs \(runsBefore) → \(runsAfter); \
            database file \(before.file) B → \(after.file) B (wal \(before.wal) → \(after.wal)); \
            live data \(before.live) B → \(after.live) B (pages \(before.pages), free \(before.free) → pages \(after.pages), free \(after.free))
            """)
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'dead'") == 5, "dead jobs younger than their retention stay")
        #expect(p.sqlInt("SELECT count(*) FROM jobs") == 5)
        #expect(runsAfter == 5, "the pruned jobs' runs went with them")
        #expect(p.sqlInt("SELECT count(*) FROM runs WHERE job_id NOT IN (SELECT id FROM jobs)") == 0)
        #expect(after.live < before.live / 4, "the live data shrank")
        #expect(p.integrityCheck() == "ok")
    }
}
