import CrescentCore
import Foundation
import Testing

/// `<schema>.enqueue(...)`, the SQL function applications call inside their own transaction:
/// from psql and from Python (psycopg), against a running `crescent run`.
@Suite(.serialized, .enabled(if: TestStore.hasPostgres, "needs a PostgreSQL server: set CRESCENT_TEST_POSTGRES_URL"))
struct PostgresEnqueueFunctionTests {
    static let tasks = [
        "mail.lua": """
            return { queue = "mail", priority = 3, unique = "args", retry = { attempts = 7 }, expires = "1h",
                     handler = function(job) return { to = job.args.to } end }
            """,
        "keyed.lua": "return { unique = { by = function(args) return args.k end }, handler = function(job) end }",
    ]

    /// psql in the project's schema: rows, or the error text.
    static func psql(_ p: Project, _ query: String) -> (rows: [String], errors: String) {
        let out = PSQL.run(TestStore.postgresURL, query, searchPath: p.schema)
        return (out.rows, out.errors)
    }

    /// A runner on a fresh schema, once it has published its tasks.
    static func runner(_ p: Project) throws -> Background {
        let runner = try Background(p, ["run"])
        let published = waitFor(timeout: 60) {
            psql(p, "SELECT count(*) FROM kv WHERE task = 'crescent:runner' AND key = 'registry'").rows == ["1"]
        }
        #expect(published, "the runner published its tasks")
        return runner
    }

    @Test func psqlTransactionsDecideWhetherTheJobExists() throws {
        let p = try PostgresStartupTests.project(tasks: Self.tasks)
        defer { p.dropSchema() }
        let runner = try Self.runner(p)
        defer { _ = runner.interrupt() }
        let s = p.schema

        let rolledBack = Self.psql(p, "BEGIN; SELECT \(s).enqueue('mail', '{\"to\": \"a@b\"}'); ROLLBACK;")
        print("psql, rolled back: \(rolledBack.rows) \(rolledBack.errors)")
        #expect(rolledBack.errors.isEmpty)
        #expect(Self.psql(p, "SELECT count(*) FROM jobs").rows == ["0"], "no job after a rollback")

        let committed = Self.psql(p, "BEGIN; SELECT \(s).enqueue('mail', '{\"to\": \"c@d\"}'); COMMIT;")
        print("psql, committed: \(committed.rows) \(committed.errors)")
        guard let id = committed.rows.compactMap({ Int($0) }).first else {
            Issue.record("no id printed: \(committed)")
            return
        }
        let ran = waitFor(timeout: 30) {
            Self.psql(p, "SELECT state, result FROM jobs WHERE id = \(id)").rows == ["succeeded|{\"to\":\"c@d\"}"]
        }
        #expect(ran, "the committed job ran: \(Self.psql(p, "SELECT * FROM jobs").rows)")
        let job = Self.psql(p, "SELECT queue, priority, max_attempts, unique_key FROM jobs WHERE id = \(id)").rows
        #expect(job == ["mail|3|7|mail:{\"to\":\"c@d\"}"], "the task's defaults apply: \(job)")
    }

    /// Unique keys are the CLI's: the same args in another key order and number spelling are a
    /// duplicate of a job enqueued by `crescent enqueue`, and the other way round.
    @Test func uniqueKeysMatchTheOtherEnqueuePaths() throws {
        let p = try PostgresStartupTests.project(tasks: Self.tasks)
        defer { p.dropSchema() }
        let runner = try Self.runner(p)
        defer { _ = runner.interrupt() }
        let s = p.schema
        let later = "run_at => now() + interval '1 hour'"
        let sqlArgs = "{\"to\": \"x\", \"n\": 1.50, \"list\": [1, 2.0, \"a\\u0008b\"], \"none\": null}"
        let first = Self.psql(p, "SELECT \(s).enqueue('mail', '\(sqlArgs)', \(later)); SELECT \(s).enqueue('mail', '\(sqlArgs)');")
        #expect(first.errors.isEmpty, "\(first.errors)")
        #expect(first.rows.count == 2 && first.rows[0] == first.rows[1], "a duplicate answers the first job's id: \(first.rows)")
        let waiting = Self.psql(p, "SELECT state, expires_at - run_at FROM jobs").rows
        #expect(waiting == ["scheduled|3600"], "due in an hour, expiring an hour after it is due: \(waiting)")
        let cli = try p.run(["enqueue", "mail", "--json", "--args", "{\"none\": null, \"list\": [1, 2, \"a\\bb\"], \"n\": 1.5, \"to\": \"x\"}"])
        print("crescent enqueue of the same args: \(cli.stdout)")
        #expect(cli.stdout.contains("\"duplicate\":true") && cli.stdout.contains("\"id\":\(first.rows.first ?? "?")"))

        let viaCLI = try p.run(["enqueue", "mail", "--json", "--in", "1h", "--args", "{\"to\": \"y\", \"tags\": {\"b\": 1, \"a\": 0.25}}"])
        let viaSQL = Self.psql(p, "SELECT \(s).enqueue('mail', '{\"tags\": {\"a\": 0.250, \"b\": 1}, \"to\": \"y\"}')")
        print("enqueue then SQL of the same args: \(viaCLI.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) / \(viaSQL.rows)")
        #expect(viaCLI.stdout.contains("\"id\":\(viaSQL.rows.first ?? "?")"), "the SQL call finds the CLI's job")
        #expect(Self.psql(p, "SELECT count(*) FROM jobs").rows == ["2"])
    }

    @Test func badCallsAreRefusedWithTheReason() throws {
        let p = try PostgresStartupTests.project(tasks: Self.tasks)
        defer { p.dropSchema() }
        let runner = try Self.runner(p)
        defer { _ = runner.interrupt() }
        let s = p.schema
        let cases: [(String, String)] = [
            ("SELECT \(s).enqueue('nope')", "unknown task \"nope\""),
            ("SELECT \(s).enqueue('keyed', '{\"k\": 1}')", "Lua function"),
            ("SELECT \(s).enqueue('mail', '[1]')", "args must be a JSON object"),
            ("SELECT \(s).enqueue('mail', '{}', queue => ' ')", "queue name cannot be empty"),
            ("SELECT \(s).enqueue(NULL)", "task must not be null"),
        ]
        for (query, expected) in cases {
            let out = Self.psql(p, query)
            print("\(query): \(out.errors.split(separator: "\n").first ?? "")")
            #expect(out.errors.contains(expected), "\(query) says \(expected): \(out.errors)")
        }
        #expect(Self.psql(p, "SELECT count(*) FROM jobs").rows == ["0"], "nothing was enqueued")
    }

    /// scripts/enqueue-example.py (the README's example) with psycopg from PyPI: a rolled-back
    /// transaction leaves no job and no wake-up; a committed one wakes the runners, which run it.
    @Test func pythonApplicationEnqueuesInItsTransaction() throws {
        guard let python = PythonTools.python(with: "psycopg[binary]", module: "psycopg") else { return }
        let p = try PostgresStartupTests.project(tasks: Self.tasks)
        defer { p.dropSchema() }
        let runner = try Self.runner(p)
        defer { _ = runner.interrupt() }
        let script = PythonTools.repoRoot.appendingPathComponent("scripts/enqueue-example.py").path
        var base = URLComponents(string: TestStore.postgresURL)!
        base.query = nil
        let r = try PythonTools.run(python, [script, base.string!, p.schema, "mail", "{\"to\": \"py@example.com\"}"])
        print("scripts/enqueue-example.py: exit \(r.code)\n\(r.stdout)\(r.stderr)")
        #expect(r.code == 0)
        #expect(r.stdout.contains("rolled back:") && r.stdout.contains("exists=False wake-ups=[]"))
        #expect(r.stdout.contains("committed:") && r.stdout.contains("wake-ups=['mail']"))
        let ran = waitFor(timeout: 30) {
            Self.psql(p, "SELECT state FROM jobs WHERE args = '{\"to\":\"py@example.com\"}'").rows == ["succeeded"]
        }
        #expect(ran, "the runner ran the committed job")
    }
}
