import CrescentCore
import Foundation
import Testing

@Suite(.serialized) struct WalkingSkeletonTests {
    static let config = Project.quietConfig

    static let tasks = [
        "ok.lua": """
            return { handler = function(job) return { doubled = job.args.n * 2 } end }
            """,
        "flaky.lua": """
            return {
              retry = { attempts = 3, delay = "50ms", jitter = 0 },
              handler = function(job)
                if job.attempt < 3 then error("not yet, attempt " .. job.attempt) end
                return "third time lucky"
              end,
            }
            """,
        "broken/always.lua": """
            return {
              retry = { attempts = 2, backoff = "fixed", delay = "50ms", jitter = 0 },
              handler = function(job)
                error("upstream is down")
              end,
            }
            """,
    ]

    @Test func threeJobsThroughRunLimit() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let a = try project.run(["enqueue", "ok", "--args", "{\"n\": 21}", "--json"])
        #expect(a.code == 0, "\(a.stderr)")
        #expect(a.json?["duplicate"] == .bool(false))
        let okID = try #require(a.json?["id"]?.intValue)
        let b = try project.run(["enqueue", "flaky"])
        let flakyID = try #require(Int64(b.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let c = try project.run(["enqueue", "broken/always"])
        let deadID = try #require(Int64(c.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))

        let run = try project.run(["run", "--limit", "6"], timeout: 60)
        #expect(run.code == 0, "\(run.stderr)")

        let jobs = try project.run(["jobs", "--json"]).jsonLines
        #expect(jobs.count == 3)
        #expect(jobs.map { $0["id"]?.intValue } == [deadID, flakyID, okID], "newest first")

        let ok = try #require(try project.run(["job", "\(okID)", "--json"]).json)
        #expect(ok["state"] == .string("succeeded"))
        #expect(ok["result"] == .object(["doubled": .int(42)]))
        #expect(ok["attempt"] == .int(1))
        #expect(ok["runs"]?.array.count == 1)
        #expect(ok["runs"]?.array.first?["outcome"] == .string("succeeded"))

        let flaky = try #require(try project.run(["job", "\(flakyID)", "--json"]).json)
        #expect(flaky["state"] == .string("succeeded"))
        #expect(flaky["result"] == .string("third time lucky"))
        #expect(flaky["attempt"] == .int(3))
        let flakyRuns = flaky["runs"]?.array ?? []
        #expect(flakyRuns.map { $0["outcome"] } == [.string("failed"), .string("failed"), .string("succeeded")])
        #expect(flakyRuns.first?["error"]?.stringValue?.contains("not yet, attempt 1") == true)

        let dead = try #require(try project.run(["job", "\(deadID)", "--json"]).json)
        #expect(dead["state"] == .string("dead"))
        #expect(dead["attempt"] == .int(2))
        #expect(dead["max_attempts"] == .int(2))
        #expect(dead["error"]?.stringValue?.contains("upstream is down") == true)
        #expect(dead["finished_at"] != .null)
        let deadRuns = dead["runs"]?.array ?? []
        #expect(deadRuns.count == 2)
        #expect(deadRuns.allSatisfy { $0["outcome"] == .string("failed") })
        #expect(deadRuns.last?["traceback"]?.stringValue?.contains("tasks/broken/always.lua:4") == true)
        for key in ["id", "task", "queue", "priority", "state", "args", "attempt", "max_attempts", "result", "error",
                    "unique_key", "scheduled_for", "run_at", "created_at", "finished_at", "runs"] {
            #expect(dead[key] != nil, "job JSON has \(key)")
        }
        print("dead job: \(try project.run(["job", "\(deadID)", "--json"]).stdout)")

        let failedOnly = try project.run(["jobs", "--state", "dead", "--json"]).jsonLines
        #expect(failedOnly.map { $0["id"]?.intValue } == [deadID])
    }

    @Test func badInputChangesNothing() throws {
        let project = try Project(config: Self.config, tasks: Self.tasks)
        let unknown = try project.run(["enqueue", "nope"])
        #expect(unknown.code == 1)
        #expect(unknown.stderr.contains("unknown task \"nope\""))
        let badArgs = try project.run(["enqueue", "ok", "--args", "{nope"])
        #expect(badArgs.code == 2)
        #expect(badArgs.stderr.contains("not valid JSON"))
        let badWhen = try project.run(["enqueue", "ok", "--in", "soon"])
        #expect(badWhen.code == 2)
        let missing = try project.run(["job", "999"])
        #expect(missing.code == 1)
        #expect(missing.stderr.contains("no job with id 999"))
        let badFlag = try project.run(["jobs", "--state", "sleeping"])
        #expect(badFlag.code == 2)
        let noSuchOption = try project.run(["jobs", "--colour"])
        #expect(noSuchOption.code == 2)
        #expect(try project.run(["jobs", "--json"]).stdout.isEmpty, "nothing was enqueued")
    }

    @Test func checkReportsBrokenFilesWithFileAndLine() throws {
        var tasks = Self.tasks
        tasks["bad_syntax.lua"] = "return {\n  handler = function(job)\n    return 1 +\n  end,\n}\n"
        tasks["bad_field.lua"] = "return {\n  ttl = \"5 parsecs\",\n  handler = function() end,\n}\n"
        let project = try Project(config: Self.config, tasks: tasks)
        let check = try project.run(["check"])
        #expect(check.code == 1)
        let lines = check.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(check.stdout)")
        #expect(lines.contains { $0.hasPrefix("tasks/bad_syntax.lua:4: ") })
        #expect(lines.contains { $0.hasPrefix("tasks/bad_field.lua:") && $0.contains("ttl") })
        print("check output:\n\(check.stdout)")

        let good = try Project(config: Self.config, tasks: Self.tasks)
        let fine = try good.run(["check"])
        #expect(fine.code == 0)
        #expect(fine.stdout.contains("3 tasks"))
    }

    @Test func badConfigExitsTwoNamingFileLineAndKey() throws {
        let project = try Project(config: "[workers]\nthreads = 2\nthreds = 3\n", tasks: Self.tasks)
        let r = try project.run(["jobs"])
        #expect(r.code == 2)
        #expect(r.stderr.contains("crescent.toml:3: key \"workers.threds\": unknown key"))
    }
}
