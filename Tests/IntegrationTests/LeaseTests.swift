import CrescentCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Leases under pressure (issue 19, items 1 and 2), against the real binary: a long startup
/// prune, a write lock held by someone else for longer than the lease, and wall clocks
/// stepped forward and back. In each, a healthy runner keeps its jobs (no job has two
/// overlapping runs, none ends `worker lost`), and a killed one still loses them.
@Suite(.serialized) struct LeaseTests {
    static func config(retention: String = "", level: String = "warn") -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 2
        lease = "2s"
        shutdown_timeout = "2s"
        [[queues]]
        name = "default"
        concurrency = 16
        [[queues]]
        name = "other"          # the watching runner's (run --queues other): declared, empty
        concurrency = 1
        [log]
        format = "json"
        level = "\(level)"
        \(retention)
        """
    }

    /// Sleeps `seconds` on its first attempt (later attempts end at once).
    static func sleeper(_ seconds: Int) -> String {
        """
        return {
          retry = { attempts = 5, backoff = "fixed", delay = "100ms", jitter = 0 },
          handler = function(job)
            if job.attempt == 1 then sleep("\(seconds)s") end
            return job.attempt
          end,
        }
        """
    }

    /// Enqueues `n` sleeper jobs; returns their ids.
    func enqueue(_ p: Project, _ n: Int) throws -> [Int64] {
        try (0..<n).map { _ in
            let r = try p.run(["enqueue", "sleeper"])
            #expect(r.code == 0, "\(r.stderr)")
            return try #require(Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
    }

    /// Runs of the sleeper jobs that overlap another run of the same job, runs ended
    /// `worker lost`, and runs per job.
    func runFacts(_ p: Project) -> (overlaps: Int, lost: Int, maxRuns: Int, runs: Int) {
        let overlaps = p.sqlInt("""
            SELECT count(*) FROM runs a JOIN runs b ON a.job_id = b.job_id AND a.id < b.id
            WHERE a.started_at < b.finished_at AND b.started_at < a.finished_at
            """)
        let lost = p.sqlInt("SELECT count(*) FROM runs WHERE error = 'worker lost'")
        let maxRuns = p.sqlInt("""
            SELECT COALESCE(max(c), 0) FROM (SELECT count(*) c FROM runs r JOIN jobs j ON j.id = r.job_id
            WHERE j.task = 'sleeper' GROUP BY r.job_id) AS per_job
            """)
        let runs = p.sqlInt("SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = 'sleeper'")
        return (overlaps, lost, maxRuns, runs)
    }

    func runningBy(_ p: Project, _ pid: Int32) -> Int {
        p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'sleeper' AND state = 'running' AND lease_owner LIKE '%:\(pid):%'")
    }

    func allSucceeded(_ p: Project, _ n: Int) -> Bool {
        p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'sleeper' AND state = 'succeeded'") == n
    }

    // MARK: a long startup prune

    /// Runner A starts with four jobs to run and a large backlog of old succeeded jobs to prune
    /// (`[retention] succeeded = "1s"`); runner B watches. The prune takes longer than the
    /// lease (printed), and yet B takes none of A's jobs.
    @Test func longStartupPruneStarvesNoHeartbeat() throws {
        let old = 200_000
        let p = try Project(config: Self.config(retention: "[retention]\nsucceeded = \"1s\"", level: "info"),
                            tasks: ["sleeper.lua": Self.sleeper(8)])
        // Creates the database (read-only commands such as `jobs` no longer do).
        #expect(try p.run(["retry", "--all-dead"]).code == 0)
        let b = try Background(p, ["run", "--queues", "other"])
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM processes") == 1 })
        // The backlog, written straight into the database once B runs (its startup prune found
        // nothing).
        let t = Date().timeIntervalSince1970 - 86400
        _ = p.sql("""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(old))
            INSERT INTO jobs (task, queue, state, args, attempt, max_attempts, result, run_at, created_at, finished_at, started_at)
            SELECT 'old', 'default', 'succeeded', '{"i":' || i || '}', 1, 1, 'null', \(t), \(t), \(t), \(t) FROM n;
            INSERT INTO runs (job_id, attempt, started_at, finished_at, outcome, worker)
            SELECT id, 1, \(t), \(t), 'succeeded', 'gone' FROM jobs WHERE task = 'old';
            """)
        let ids = try enqueue(p, 4)

        let started = Date()
        let a = try Background(p, ["run"])
        #expect(waitFor(timeout: 30) { runningBy(p, a.pid) == 4 }, "A runs the four jobs")
        let left = p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'old'")
        let pruned = waitFor(timeout: 120, every: 0.1) { p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'old'") == 0 }
        let pruneSeconds = Date().timeIntervalSince(started)
        let done = waitFor(timeout: 60, every: 0.1) { allSucceeded(p, ids.count) }
        #expect(a.interrupt() == 0)
        #expect(b.interrupt() == 0)
        let aLog = a.err.text(), bLog = b.err.text()
        let facts = runFacts(p)
        print("long prune: \(old) old jobs (\(left) left when A had its jobs running) pruned in about \(String(format: "%.1f", pruneSeconds)) s (lease 2 s); \(facts.runs) runs of 4 jobs, overlapping \(facts.overlaps), worker lost \(facts.lost)")
        #expect(pruned)
        #expect(done)
        #expect(facts.overlaps == 0)
        #expect(facts.lost == 0)
        #expect(facts.runs == 4)
        #expect(facts.maxRuns == 1)
        #expect(!bLog.contains("rescued jobs"), "\(bLog.suffix(2000))")
        #expect(aLog.contains("pruned finished jobs"))
    }

    // MARK: an external write lock

    /// The `sqlite3` shell (or `psql`, on PostgreSQL) holds the write lock for a while, then commits.
    final class LockHolder {
        let process: Process
        let input = Pipe()
        let output = Pipe()
        let out: ReadAll

        init(_ p: Project) throws {
            if TestStore.isPostgres {
                process = PSQL.process(TestStore.postgresURL, searchPath: p.schema, [])
            } else {
                process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
                process.arguments = ["-cmd", ".timeout 30000", p.databasePath]
            }
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            out = ReadAll(output)
            try process.run()
        }

        func send(_ text: String) { input.fileHandleForWriting.write(Data((text + "\n").utf8)) }

        func finish() -> String {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
            return out.text()
        }
    }

    /// Another program holds the database's write lock for four times the lease (as a
    /// `VACUUM` would) while runner A runs four jobs and runner B watches: when the lock goes,
    /// whichever runner writes first, A keeps its jobs.
    @Test func writeLockHeldPastTheLeaseRescuesNothing() throws {
        let p = try Project(config: Self.config(), tasks: ["sleeper.lua": Self.sleeper(13)])
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (read-only commands do not)
        let ids = try enqueue(p, 4)
        let a = try Background(p, ["run"])
        #expect(waitFor(timeout: 30) { runningBy(p, a.pid) == 4 }, "A runs the four jobs")
        let b = try Background(p, ["run", "--queues", "other"])
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM processes") == 2 })

        let holder = try LockHolder(p)
        // SQLite: the file's write lock; PostgreSQL: every write to Crescent's tables blocked.
        holder.send(TestStore.isSQLite ? "BEGIN IMMEDIATE;" : "BEGIN; LOCK TABLE jobs, runs, processes, control, kv, schedules IN EXCLUSIVE MODE;")
        holder.send("INSERT INTO control (name, value) VALUES ('lock-test', 1) ON CONFLICT (name) DO UPDATE SET value = control.value + 1;")
        holder.send("SELECT 'locked';")
        let lockedAt = Date()
        Thread.sleep(forTimeInterval: 8)  // the situation under test: a lock held 4 leases, past busy_timeout
        holder.send("COMMIT;")
        let shell = holder.finish()
        #expect(shell.contains("locked"), "the shell took the lock: \(shell)")
        print("external write lock held \(String(format: "%.1f", Date().timeIntervalSince(lockedAt))) s (lease 2 s)")

        let done = waitFor(timeout: 60, every: 0.1) { allSucceeded(p, ids.count) }
        #expect(a.interrupt() == 0)
        #expect(b.interrupt() == 0)
        let aLog = a.err.text(), bLog = b.err.text()
        let facts = runFacts(p)
        print("write lock: \(facts.runs) runs of 4 jobs, overlapping \(facts.overlaps), worker lost \(facts.lost)")
        #expect(done)
        #expect(facts.overlaps == 0)
        #expect(facts.lost == 0)
        #expect(facts.runs == 4)
        #expect(!aLog.contains("rescued jobs") && !bLog.contains("rescued jobs"), "\(aLog.suffix(1500))\n\(bLog.suffix(1500))")
    }
}
