import CrescentCore
import Foundation
import Testing

/// PostgreSQL-only behaviour of the real binary: start-up errors (one sentence, exit 2, no
/// password shown, nothing half-created), two runners on one schema, and wake-ups from another
/// process. Needs a server: `CRESCENT_TEST_POSTGRES_URL` (as `make test` sets).
@Suite(.serialized, .enabled(if: TestStore.hasPostgres, "needs a PostgreSQL server: set CRESCENT_TEST_POSTGRES_URL"))
struct PostgresStartupTests {
    static let task = "return { handler = function(job) return job.args.i or 0 end }"

    /// A project whose `database` is `url` (the server's URL unless given).
    static func project(url: String? = nil, extra: String = "", tasks: [String: String] = ["work.lua": task]) throws -> Project {
        let p = try Project(config: "", tasks: tasks)
        let database = url ?? TestStore.url(schema: p.schema, extra: extra)
        try p.write("crescent.toml", """
            database = "\(database)"
            [workers]
            threads = 2
            lease = "3s"
            shutdown_timeout = "3s"
            [log]
            format = "json"
            level = "info"
            """)
        return p
    }

    /// psql on the test server, in `schema` when given.
    static func psql(_ query: String, schema: String? = nil) -> [String] {
        let out = PSQL.run(TestStore.postgresURL, query, searchPath: schema)
        if !out.errors.isEmpty { print("psql: \(out.errors)") }
        return out.rows
    }

    static func schemaExists(_ schema: String) -> Bool {
        psql("SELECT count(*) FROM pg_namespace WHERE nspname = '\(schema)'") == ["1"]
    }

    /// The server URL with its user info, host, port or database replaced.
    static func serverURL(password: String? = nil, port: Int? = nil, database: String? = nil) -> String {
        var parts = URLComponents(string: TestStore.postgresURL)!
        parts.query = nil
        if let password { parts.password = password }
        if let port { parts.port = port }
        if let database { parts.path = "/\(database)" }
        return parts.string!
    }

    /// `run` and `status` both exit 2 with one line on stderr that satisfies `names`, and
    /// never print `secret`.
    func expectStartupError(_ p: Project, secret: String, _ what: String, names: (String) -> Bool) throws {
        for command in [["run"], ["status"]] {
            let r = try p.run(command, timeout: 20)
            let lines = r.stderr.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            print("\(what), crescent \(command[0]): exit \(r.code): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            #expect(r.code == 2, "\(what): crescent \(command[0]) exits 2: \(r.stderr)")
            #expect(lines.count == 1, "\(what): one sentence: \(r.stderr)")
            #expect(names(r.stderr), "\(what): the message names the problem: \(r.stderr)")
            #expect(!(r.stderr + r.stdout).contains(secret), "\(what): the password is never shown")
        }
    }

    @Test func unreachableServerIsOneSentenceAndExitTwo() throws {
        let port = FuzzBinaryTests.freePort()  // nothing listens there
        let schema = TestStore.newSchema()
        let url = TestStore.url(Self.serverURL(port: port), schema: schema)
        let p = try Self.project(url: url)
        let secret = URLComponents(string: url)?.password ?? "crescent-test"
        try expectStartupError(p, secret: secret, "unreachable server") { $0.contains("\(port)") }
    }

    @Test func wrongPasswordIsOneSentenceAndCreatesNothing() throws {
        let schema = TestStore.newSchema()
        let secret = "wrong-\(UUID().uuidString.prefix(8))"
        let p = try Self.project(url: TestStore.url(Self.serverURL(password: secret), schema: schema))
        try expectStartupError(p, secret: secret, "wrong password") { $0.lowercased().contains("password") }
        #expect(!Self.schemaExists(schema), "no schema was created")
    }

    @Test func missingDatabaseIsOneSentenceAndCreatesNothing() throws {
        let database = "crescent_missing_\(UUID().uuidString.prefix(8).lowercased())"
        let p = try Self.project(url: TestStore.url(Self.serverURL(database: database), schema: TestStore.newSchema()))
        let secret = URLComponents(string: TestStore.postgresURL)?.password ?? "crescent-test"
        try expectStartupError(p, secret: secret, "missing database") { $0.contains(database) }
        #expect(Self.psql("SELECT count(*) FROM pg_database WHERE datname = '\(database)'") == ["0"], "no database was created")
    }

    @Test func schemaMigratedByANewerCrescentChangesNothing() throws {
        let p = try Self.project()
        defer { p.dropSchema() }
        let e = try p.run(["enqueue", "work", "--args", "{\"i\": 1}"])
        #expect(e.code == 0, "the schema is created on first use: \(e.stderr)")
        _ = Self.psql("INSERT INTO migrations (version, applied_at) VALUES (99, 0)", schema: p.schema)
        let before = Self.snapshot(p.schema)
        let secret = URLComponents(string: TestStore.postgresURL)?.password ?? "crescent-test"
        try expectStartupError(p, secret: secret, "newer schema") { $0.contains("99") }
        #expect(Self.snapshot(p.schema) == before, "the schema is left as it was")
        #expect(Self.psql("SELECT state FROM jobs", schema: p.schema) == ["queued"], "the job was not run")
    }

    /// The schema's tables, migration rows and jobs.
    static func snapshot(_ schema: String) -> [String] {
        psql("SELECT table_name FROM information_schema.tables WHERE table_schema = '\(schema)' ORDER BY 1")
            + psql("SELECT version, applied_at FROM migrations ORDER BY 1", schema: schema)
            + psql("SELECT id, state, attempt FROM jobs ORDER BY 1", schema: schema)
    }

    // MARK: several processes

    /// Two `crescent run` processes on one schema, as two hosts would: a few thousand jobs,
    /// each run exactly once.
    @Test func twoRunnersOnOneSchemaRunEveryJobOnce() throws {
        let n = 3000
        let p = try Self.project(tasks: ["seed.lua": ReliabilityTests.seed, "work.lua": Self.task])
        defer { p.dropSchema() }
        let runners = try (0..<2).map { _ in try Background(p, ["run"]) }
        #expect(waitFor(timeout: 60) { Self.psql("SELECT count(*) FROM processes", schema: p.schema) == ["2"] }, "both runners registered")
        #expect(try p.run(["enqueue", "seed", "--args", "{\"n\": \(n)}"]).code == 0)
        let drained = waitFor(timeout: 180, every: 0.2) {
            Self.psql("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'", schema: p.schema) == ["\(n)"]
        }
        let codes = runners.map { $0.interrupt() }
        #expect(drained, "every job succeeded")
        #expect(codes == [0, 0])
        let counts = Self.psql("""
            SELECT count(DISTINCT j.id), count(r.id), COALESCE(max(c.runs), 0), count(DISTINCT r.worker)
            FROM jobs j LEFT JOIN runs r ON r.job_id = j.id
            LEFT JOIN (SELECT job_id, count(*) AS runs FROM runs GROUP BY job_id) c ON c.job_id = j.id
            WHERE j.task = 'work'
            """, schema: p.schema)
        print("two runners on one schema: distinct jobs | runs | max runs of one job | processes that ran: \(counts)")
        #expect(counts == ["\(n)|\(n)|1|2"], "every job ran exactly once, and both processes ran some")
    }

    // MARK: wake-ups

    /// Seconds between an enqueue from another process and the start of its run.
    static func enqueueToStart(_ p: Project, i: Int) throws -> Double? {
        let e = try p.run(["enqueue", "work", "--args", "{\"i\": \(i)}", "--json"])
        guard e.code == 0, let id = e.json?["id"]?.intValue else { Issue.record("enqueue: \(e.stderr)"); return nil }
        guard waitFor(timeout: 30, { Self.psql("SELECT count(*) FROM runs WHERE job_id = \(id)", schema: p.schema) == ["1"] }) else { return nil }
        return Self.psql("SELECT r.started_at - j.created_at FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.id = \(id)",
                         schema: p.schema).first.flatMap(Double.init)
    }

    /// Connections listening on the schema's wake-up channel.
    static func listeners(_ schema: String) -> Int {
        Int(psql("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%crescent_wake_\(schema)%'").first ?? "") ?? -1
    }

    /// An idle runner LISTENs on its schema's channel; enqueues from other processes start
    /// within a second or two (NOTIFY; polling is the fallback).
    @Test func enqueueFromAnotherProcessWakesAnIdleRunner() throws {
        let p = try Self.project()
        defer { p.dropSchema() }
        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        #expect(waitFor(timeout: 30) { Self.listeners(p.schema) == 1 }, "the runner listens on its channel")
        var delays: [Double] = []
        for i in 0..<5 {
            Thread.sleep(forTimeInterval: 0.3)  // idle in between
            if let d = try Self.enqueueToStart(p, i: i) { delays.append(d) }
        }
        print("enqueue → start with LISTEN/NOTIFY: \(delays.map { String(format: "%.3f s", $0) })")
        #expect(delays.count == 5)
        #expect(delays.allSatisfy { $0 < 2 }, "each job started within 2 s: \(delays)")
    }

    /// Behind PgBouncer in transaction mode (`pgbouncer=transaction`) nothing LISTENs; idle
    /// runners poll and still start new work within the poll interval.
    @Test func pgbouncerTransactionModePollsInsteadOfListening() throws {
        let p = try Self.project(extra: "pgbouncer=transaction")
        defer { p.dropSchema() }
        let runner = try Background(p, ["run"])
        defer { runner.interrupt() }
        #expect(waitFor(timeout: 30) {
            Self.psql("SELECT count(*) FROM processes", schema: p.schema) == ["1"]
        }, "the runner registered")
        var delays: [Double] = []
        for i in 0..<5 {
            Thread.sleep(forTimeInterval: 0.3)
            if let d = try Self.enqueueToStart(p, i: i) { delays.append(d) }
        }
        print("enqueue → start with pgbouncer=transaction (polling): \(delays.map { String(format: "%.3f s", $0) })")
        #expect(Self.listeners(p.schema) == 0, "no LISTEN behind PgBouncer in transaction mode")
        #expect(delays.count == 5)
        #expect(delays.allSatisfy { $0 < 2 }, "each job started within the poll interval (and 2 s): \(delays)")
    }
}
