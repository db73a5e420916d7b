import CrescentCore
import Foundation
import Testing

/// `crescent copy --from crescent.db --to postgres://…`: a single-host installation moves to
/// PostgreSQL with its jobs, runs, store values and schedule state.
@Suite(.serialized, .enabled(if: TestStore.hasPostgres, "needs a PostgreSQL server: set CRESCENT_TEST_POSTGRES_URL"))
struct CopyCommandTests {
    static let task = """
        return { schedule = "every 1s", missed = "skip",
                 handler = function(job)
                     if job.args.i then store.set("seen" .. job.args.i, { i = job.args.i }) end
                     job:progress(1, 2, "half")
                     if job.args.fail then error("boom") end
                     return { ok = true }
                 end }
        """

    /// A SQLite project (whatever store the suite runs on) with jobs in several states.
    static func sqliteProject() throws -> Project {
        let p = try Project(config: "", tasks: ["w.lua": task])
        try p.write("crescent.toml", "database = \"source.db\"\n[workers]\nthreads = 2\n[log]\nlevel = \"warn\"\n")
        for i in 1...3 { #expect(try p.run(["enqueue", "w", "--args", "{\"i\": \(i)}"]).code == 0) }
        #expect(try p.run(["enqueue", "w", "--args", "{\"fail\": true}"]).code == 0)
        #expect(try p.run(["enqueue", "w", "--in", "1h"]).code == 0)
        let runner = try Background(p, ["run"])
        let ran = waitFor(timeout: 30) {
            (try? p.run(["jobs", "--json", "--state", "succeeded"]).jsonLines.count) ?? 0 >= 4
        }
        #expect(ran, "the runner ran the jobs")
        #expect(runner.interrupt() == 0)
        return p
    }

    static func target(_ p: Project) throws -> (url: String, config: String) {
        let url = TestStore.url(schema: p.schema)
        try p.write("pg.toml", "database = \"\(url)\"\n")
        return (url, p.dir.appendingPathComponent("pg.toml").path)
    }

    /// Each job's id, state, attempt, args, result, error, progress, and its runs' outcomes, as JSON text.
    static func jobsView(_ p: Project, config: String) throws -> [String] {
        let list = try p.run(["jobs", "--json", "--limit", "1000", "--config", config], config: false).jsonLines
        return try list.map { job -> String in
            let id = job["id"]?.intValue ?? -1
            let one = try p.run(["job", "\(id)", "--json", "--config", config], config: false).json
            let runs = one?["runs"]?.array.map { "\($0["attempt"]?.intValue ?? 0):\($0["outcome"]?.stringValue ?? "-"):\($0["worker"]?.stringValue ?? "-")" } ?? []
            return ["\(id)", job["state"]?.stringValue ?? "", "\(job["attempt"]?.intValue ?? -1)", job["args"]?.encoded() ?? "",
                    job["result"]?.encoded() ?? "", job["error"]?.encoded() ?? "", job["progress"]?.encoded() ?? "",
                    runs.joined(separator: ",")].joined(separator: " | ")
        }
    }

    @Test func copiesEverythingAndThePostgresRunnerCarriesOn() throws {
        let p = try Self.sqliteProject()
        let (url, pgConfig) = try Self.target(p)
        defer { p.dropSchema() }
        let source = p.dir.appendingPathComponent("source.db").path
        let before = try Self.jobsView(p, config: p.dir.appendingPathComponent("crescent.toml").path)

        let copy = try p.run(["copy", "--from", source, "--to", url, "--json"], config: false)
        print("crescent copy: exit \(copy.code) \(copy.stdout)\(copy.stderr)")
        #expect(copy.code == 0)
        let counts = copy.json
        #expect(counts?["jobs"]?.intValue == Int64(before.count))
        #expect((counts?["runs"]?.intValue ?? 0) >= 5 && (counts?["store_values"]?.intValue ?? 0) >= 3)
        #expect(counts?["schedules"]?.intValue == 1)
        #expect(!(copy.stdout + copy.stderr).contains("crescent-test"), "the password is not shown")

        let after = try Self.jobsView(p, config: pgConfig)
        #expect(after == before, "every job, with its runs, reads the same on PostgreSQL")
        let stored = PSQL.run(TestStore.postgresURL, "SELECT value FROM kv WHERE task = 'w' AND key = 'seen2'", searchPath: p.schema).rows
        #expect(stored == ["{\"i\":2}"], "store values came along: \(stored)")

        // A second copy is refused and changes nothing.
        let again = try p.run(["copy", "--from", source, "--to", url], config: false)
        print("second copy: exit \(again.code) \(again.stderr)")
        #expect(again.code == 1 && again.stderr.contains("already holds"))
        #expect(try Self.jobsView(p, config: pgConfig) == before)

        // New jobs take ids past the copied ones; a runner on PostgreSQL runs the copied queued job.
        let maxID = before.compactMap { Int64($0.split(separator: " ").first ?? "") }.max() ?? 0
        let enqueued = try p.run(["enqueue", "w", "--json", "--args", "{\"i\": 9}", "--config", pgConfig], config: false).json
        #expect((enqueued?["id"]?.intValue ?? 0) > maxID, "ids continue after the copied ones: \(String(describing: enqueued))")
        try p.write("pg.toml", "database = \"\(url)\"\n[workers]\nthreads = 2\n[log]\nlevel = \"warn\"\n")
        let (process, out, err) = try p.start(["run", "--config", pgConfig], config: false)
        let runner = Background(process: process, out: out, err: err)
        let drained = waitFor(timeout: 30) {
            PSQL.run(TestStore.postgresURL, "SELECT count(*) FROM jobs WHERE state = 'succeeded' AND args = '{\"i\":9}'",
                     searchPath: p.schema).rows == ["1"]
        }
        #expect(runner.interrupt() == 0)
        #expect(drained, "a runner on PostgreSQL runs the new job")
    }

    @Test func refusedWhileARunnerUsesTheSource() throws {
        let p = try Self.sqliteProject()
        let (url, _) = try Self.target(p)
        defer { p.dropSchema() }
        let runner = try Background(p, ["run"])
        defer { _ = runner.interrupt() }
        #expect(waitFor(timeout: 30) { (try? p.run(["status", "--json"]).json?["processes"]?.array.count) == 1 }, "the runner registered")
        let copy = try p.run(["copy", "--from", p.dir.appendingPathComponent("source.db").path, "--to", url], config: false)
        print("copy beside a runner: exit \(copy.code) \(copy.stderr)")
        #expect(copy.code == 1 && copy.stderr.contains("a runner is using"))
        #expect(PSQL.run(TestStore.postgresURL, "SELECT count(*) FROM jobs", searchPath: p.schema).rows == ["0"], "nothing was copied")
    }

    @Test func badArgumentsNameTheProblem() throws {
        let p = try Project(config: "", tasks: [:])
        let cases: [([String], String)] = [
            (["copy", "--from", "missing.db", "--to", TestStore.url(schema: p.schema)], "no SQLite database at missing.db"),
            (["copy", "--from", "x.db", "--to", "/tmp/other.db"], "--to must be a postgres:// URL"),
            (["copy", "--from", "x.db", "--to", "postgres://u@h/db?schema=Bad-Name"], "schema"),
        ]
        for (args, expected) in cases {
            let r = try p.run(args, config: false)
            print("\(args.joined(separator: " ")): exit \(r.code) \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
            #expect(r.code == 2 && r.stderr.contains(expected))
        }
    }
}
