import CrescentCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile handlers and task files (issue 18, items 2, 3, 5 and 6), against the real binary:
/// finalizers, long C calls, cross-task tampering, and the ttl and memory cap around host calls.
@Suite(.serialized) struct SandboxHostileTests {
    static let config = """
        database = "jobs.db"
        [workers]
        threads = 1
        memory = "64MB"
        shutdown_timeout = "1s"
        [log]
        format = "json"
        level = "warn"
        """

    static let ok = #"return { handler = function(job) return "ok" end }"#

    static func task(_ body: String, ttl: String = "2s", attempts: Int = 1) -> String {
        """
        return {
          ttl = "\(ttl)",
          retry = { attempts = \(attempts), backoff = "fixed", delay = "100ms", jitter = 0 },
          handler = function(job)
            \(body)
          end,
        }
        """
    }

    /// `crescent exec TASK`: its printed outcome.
    func exec(_ p: Project, _ task: String, timeout: Double = 60) throws -> String {
        let r = try p.run(["exec", task], timeout: timeout)
        return r.stdout + r.stderr
    }

    /// Enqueues `tasks` in order, runs them with `run --limit`, and returns each job as `crescent job` shows it.
    func runJobs(_ p: Project, _ tasks: [String], timeout: Double = 60) throws -> [JSONValue] {
        let ids = try tasks.map { try p.opsEnqueue($0) }
        let r = try p.run(["run", "--limit", "\(tasks.count)"], timeout: timeout)
        #expect(r.code == 0, "\(r.stderr)")
        return try ids.map { try #require(try p.opsJob($0)) }
    }

    // MARK: item 2: finalizers

    static let loopingFinalizer = "setmetatable({}, {__gc = function() while true do end end}); collectgarbage()"

    /// The looping finalizer in a handler fails its job with a clear error; the runner goes on.
    @Test func finalizerInHandlerFailsTheJob() throws {
        let p = try Project(config: Self.config, tasks: [
            "gc.lua": Self.task(Self.loopingFinalizer + "\nreturn 1"), "ok.lua": Self.ok,
        ])
        let jobs = try runJobs(p, ["gc", "ok"])
        #expect(jobs[0]["state"]?.stringValue == "dead")
        #expect(jobs[0]["error"]?.stringValue?.contains("__gc metamethods (finalizers) are not allowed") == true, "\(jobs[0])")
        #expect(jobs[1]["state"]?.stringValue == "succeeded")
        // `__gc = false` marks a table for finalization in Lua 5.4 too.
        try p.write("tasks/gc2.lua", Self.task("setmetatable({}, {__gc = false}); return 1"))
        #expect(try exec(p, "gc2").contains("__gc metamethods"))
    }

    /// The same two lines at a task file's top level: `check` reports the file, `run` starts
    /// and runs the other tasks, and a live reload with the file does not hang the runner.
    @Test func finalizerAtTopLevel() throws {
        let bad = Self.loopingFinalizer + "\nreturn { handler = function() return 1 end }"
        let p = try Project(config: Self.config, tasks: ["gc.lua": bad, "ok.lua": Self.ok])
        let check = try p.run(["check"], timeout: 30)
        #expect(check.code != 0)
        #expect((check.stdout + check.stderr).contains("tasks/gc.lua"), "\(check.stdout) \(check.stderr)")
        #expect((check.stdout + check.stderr).contains("__gc"))
        let jobs = try runJobs(p, ["ok"])
        #expect(jobs[0]["state"]?.stringValue == "succeeded")

        // Live reload: the file comes back broken while the runner runs.
        try FileManager.default.removeItem(at: p.dir.appendingPathComponent("tasks/gc.lua"))
        let runner = try OpsRunner(p)
        let first = try p.opsEnqueue("ok")
        try p.opsWaitFor(first, "succeeded", timeout: 30)
        try p.write("tasks/gc.lua", bad)
        #expect(opsEventually(20) { runner.stderr.contains("tasks/gc.lua") ? true : nil } == true)
        let second = try p.opsEnqueue("ok")
        #expect(try p.opsWaitFor(second, "succeeded", timeout: 30) != nil)
        runner.signal(SIGTERM)
        #expect(runner.waitForExit(30) == 0)
    }

    // MARK: item 3 (a): argument checks on C library calls

    @Test func boundedLibraryCalls() throws {
        let p = try Project(config: Self.config, tasks: [
            "rep0.lua": Self.task(#"return #string.rep("", 2^53)"#),
            "rep.lua": Self.task(#"return ("x"):rep(1e15)"#),
            "move.lua": Self.task("table.move({}, 1, 1e15, 2) return 1"),
            "insert.lua": Self.task(#"table.insert(setmetatable({}, {__len = function() return 2^53 end}), 1, "x") return 1"#),
            "concat.lua": Self.task(#"return table.concat({}, "", 1, 1e15)"#),
            "fine.lua": Self.task(#"return { ("ab"):rep(3, "-"), table.concat(table.move({1, 2, 3}, 1, 3, 2), ",") }"#),
        ])
        #expect(try exec(p, "rep0").contains("result: 0"))
        #expect(try exec(p, "rep").contains("string.rep: the result would be"))
        #expect(try exec(p, "move").contains("table.move: 1..1000000000000000 is more elements than the memory limit can hold"))
        #expect(try exec(p, "insert").contains("table.insert: a length of 9007199254740992"))
        #expect(try exec(p, "concat").contains("table.concat: 1..1000000000000000"))
        #expect(try exec(p, "fine").contains(#"result: ["ab-ab-ab","1,1,2,3"]"#))
    }

    // MARK: item 5: cross-task tampering

    /// `pairs(job)` shows no shared metatable; a task that tries to replace it (and to write
    /// into `env`) changes nothing another task sees.
    @Test func tasksCannotTamperWithEachOther() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: Self.config + "\n[env]\nGREETING = \"hi\"\n[http]\nlisten = \"127.0.0.1:\(port)\"\n", tasks: [
            "evil.lua": Self.task("""
                local seen = {}
                for k in pairs(job) do
                  seen[#seen + 1] = type(k)
                  if type(k) == "table" then k.__index = function() return { hacked = true } end end
                end
                local mt = getmetatable(job)
                if type(mt) == "table" then mt.__index = function() return { hacked = true } end end
                pcall(rawset, env, "GREETING", "hacked")
                local res = http.get("http://127.0.0.1:\(port)/healthz")
                local rmt = getmetatable(res)
                if type(rmt) == "table" then rmt.__index.json = function() return "hacked" end end
                return { keys = table.concat(seen, ","), mt = tostring(mt), rmt = tostring(rmt), status = res.status }
                """, attempts: 50),
            "victim.lua": Self.task("""
                local res = http.get("http://127.0.0.1:\(port)/healthz")
                return { a = job.args.a, hacked = job.args.hacked, greeting = env.GREETING, json = type(res.json) }
                """, attempts: 50),
        ])
        // Retried until the runner's own HTTP server (the requests' target) listens.
        let evil = try p.opsEnqueue("evil")
        let victim = try p.opsEnqueue("victim", ["--args", #"{"a": 5}"#])
        let runner = try OpsRunner(p)
        try p.opsWaitFor(evil, "succeeded", timeout: 30)
        try p.opsWaitFor(victim, "succeeded", timeout: 30)
        runner.signal(SIGTERM)
        _ = runner.waitForExit(30)
        let e = try #require(try p.opsJob(evil))
        #expect(e["state"]?.stringValue == "succeeded", "\(e)")
        #expect(e["result"]?["keys"]?.stringValue?.contains("table") == false, "\(e)")
        #expect(e["result"]?["mt"]?.stringValue == "false")
        #expect(e["result"]?["rmt"]?.stringValue == "false")
        let v = try #require(try p.opsJob(victim))
        #expect(v["state"]?.stringValue == "succeeded", "\(v)")
        #expect(v["result"] == .object(["a": .int(5), "greeting": .string("hi"), "json": .string("function")]), "\(v)")
    }

    /// A coroutine made by one job and kept in the task file's upvalues cannot write into the
    /// store or push jobs for the job that resumes it later.
    @Test func sideEffectsBelongToTheirAttempt() throws {
        let p = try Project(config: Self.config, tasks: [
            "keeper.lua": """
                local kept
                return {
                  handler = function(job)
                    if job.args.plant then
                      kept = coroutine.create(function()
                        coroutine.yield()
                        store.set("stolen", 1)
                        queue.push("keeper", {})
                      end)
                      coroutine.resume(kept)
                      return "planted"
                    end
                    local ok, err = coroutine.resume(kept)
                    store.set("own", 1)
                    return { ok = ok, err = err }
                  end,
                }
                """,
        ])
        let plant = try p.opsEnqueue("keeper", ["--args", #"{"plant": true}"#])
        let use = try p.opsEnqueue("keeper")
        let r = try p.run(["run", "--limit", "2"], timeout: 60)
        #expect(r.code == 0, "\(r.stderr)")
        #expect(try p.opsJob(plant)?["result"]?.stringValue == "planted")
        let u = try #require(try p.opsJob(use))
        #expect(u["result"]?["ok"] == .bool(false), "\(u)")
        #expect(u["result"]?["err"]?.stringValue?.contains("cannot be called from a coroutine created outside this job's attempt") == true, "\(u)")
        #expect(p.sql("SELECT key FROM kv WHERE task = 'keeper' ORDER BY key") == ["own"])
        #expect(p.sqlInt("SELECT count(*) FROM jobs") == 2)
    }

    // MARK: item 6: ttl and memory cap around host calls

    @Test func deadlineIsCheckedAfterHostCalls() throws {
        let p = try Project(config: Self.config, tasks: [
            "big.lua": Self.task(#"for i = 1, 25 do store.set("k" .. i, ("x"):rep(8e6)) end return "done""#),
            // Slow host calls with few Lua instructions between them: the deadline check after
            // each call ends it, not the instruction count hook.
            "reads.lua": Self.task(#"store.set("k", ("x"):rep(9e5)) for i = 1, 1e6 do store.get("k") end return "done""#),
        ])
        let jobs = try runJobs(p, ["big", "reads"], timeout: 60)
        #expect(jobs[1]["state"]?.stringValue == "dead", "\(jobs[1])")
        #expect(jobs[1]["error"]?.stringValue == "ttl exceeded")
        #expect(jobs[0]["state"]?.stringValue == "dead", "\(jobs[0])")
        // The audit's repro now stops at its first write: an 8 MB value is over the 1 MB a store
        // value may hold. Either way it can no longer run past its ttl and succeed.
        let error = jobs[0]["error"]?.stringValue ?? ""
        #expect(error == "ttl exceeded" || error.contains("more than the 1 MB a store value may hold"), "\(error)")
        #expect(p.sqlInt("SELECT count(*) FROM kv WHERE task = 'big'") == 0)
    }

    @Test func decodingCountsAgainstTheMemoryCap() throws {
        let p = try Project(config: Self.config, tasks: [
            "decode.lua": Self.task(#"local s = "[" .. ("[],"):rep(5e6) .. "[]]" local ok, v = pcall(json.decode, s) return ok"#, ttl: "60s"),
            "small.lua": Self.task(#"return json.decode('{"a":[1,2.5,"\\u00e9",null,true,{}],"b":"x"}')"#),
        ])
        let out = try exec(p, "decode")
        #expect(out.contains("aborted") && out.contains("memory limit exceeded"), "\(out)")
        #expect(try exec(p, "small").contains(#"result: {"a":[1,2.5,"é",null,true,{}],"b":"x"}"#))
    }

    @Test func memoryErrorCaughtByPcallStillFailsTheAttempt() throws {
        let p = try Project(config: Self.config, tasks: [
            "hog.lua": Self.task("""
                local ok = pcall(function() local t = {} for i = 1, 1e9 do t[i] = ("x"):rep(1000) .. i end end)
                local ok2 = coroutine.resume(coroutine.create(function() local t = {} for i = 1, 1e9 do t[i] = ("y"):rep(1000) .. i end end))
                return "survived"
                """, ttl: "60s"),
        ])
        let jobs = try runJobs(p, ["hog"])
        #expect(jobs[0]["state"]?.stringValue == "dead", "\(jobs[0])")
        #expect(jobs[0]["error"]?.stringValue == "memory limit exceeded")
    }

    // MARK: item 3 (b): the watchdog, for C calls that cannot be bounded

    static let backtracking = #"string.find(("a"):rep(40), ("a?"):rep(40) .. ("a"):rep(40) .. "b")"#
    static let lazyDots = #"("a"):rep(200000):find(".-.-.-.-b")"#

    /// A handler stuck in a pathological pattern: the runner records the attempt as `aborted`
    /// (`ttl exceeded`), counting it, logs one line naming the job and task, and exits 70.
    /// Restarted (as a process manager would), it does the same until the job is `dead`.
    @Test(arguments: [backtracking, lazyDots])
    func stuckCCallCountsTheAttemptAndEndsTheRunner(_ call: String) throws {
        let p = try Project(config: Self.config, tasks: ["poison.lua": Self.task("return " + call, attempts: 2)])
        let id = try p.opsEnqueue("poison")
        for round in 1...2 {
            let r = try p.run(["run"], timeout: 60)
            #expect(r.code == 70, "round \(round): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n").filter { $0.contains("stuck in a C call") }
            #expect(lines.count == 1, "\(r.stderr)")
            #expect(lines.first?.contains("\"job.id\":\(id)") == true && lines.first?.contains("\"task\":\"poison\"") == true)
        }
        let job = try #require(try p.opsJob(id))
        #expect(job["state"]?.stringValue == "dead", "\(job)")
        #expect(job["error"]?.stringValue == "ttl exceeded")
        let outcomes = job["runs"]?.array.map { "\($0["attempt"]?.intValue ?? 0):\($0["outcome"]?.stringValue ?? ""):\($0["error"]?.stringValue ?? "")" }
        #expect(outcomes == ["1:aborted:ttl exceeded", "2:aborted:ttl exceeded"])
    }

    /// A task file stuck in C while loading: `check`, `tasks` and `enqueue` report it and go on;
    /// `run` starts without it, and a live reload that brings it does not hang the runner.
    @Test func stuckLoadIsReportedAndSkipped() throws {
        let slow = "local x = " + Self.backtracking + "\nreturn { handler = function() return 1 end }"
        let p = try Project(config: Self.config, tasks: [
            "slow.lua": slow, "ok.lua": Self.ok,
            "move.lua": "table.move({}, 1, 1e15, 2)\nreturn { handler = function() return 1 end }",
            "rep.lua": #"local s = string.rep("", 2^53) return { handler = function() return #s end }"#,
        ])
        let check = try p.run(["check"], timeout: 60)
        #expect(check.code != 0)
        let text = check.stdout + check.stderr
        #expect(text.contains("tasks/slow.lua: load did not finish within 1s"), "\(text)")
        #expect(text.contains("tasks/move.lua") && text.contains("table.move"), "\(text)")
        #expect(!text.contains("tasks/rep.lua"), "\(text)")
        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database (tasks does not)
        let tasks = try p.run(["tasks"], timeout: 60)
        #expect((tasks.stdout + tasks.stderr).contains("tasks/slow.lua: load did not finish within 1s"))
        let jobs = try runJobs(p, ["ok", "rep"])
        #expect(jobs.map { $0["state"]?.stringValue } == ["succeeded", "succeeded"])

        try FileManager.default.removeItem(at: p.dir.appendingPathComponent("tasks/slow.lua"))
        let runner = try OpsRunner(p)
        let first = try p.opsEnqueue("ok")
        try p.opsWaitFor(first, "succeeded", timeout: 30)
        try p.write("tasks/slow.lua", slow)
        #expect(opsEventually(30) { runner.stderr.contains("load did not finish within 1s") ? true : nil } == true, "\(runner.stderr)")
        let second = try p.opsEnqueue("ok")
        #expect(try p.opsWaitFor(second, "succeeded", timeout: 30) != nil)
        runner.signal(SIGTERM)
        #expect(runner.waitForExit(30) == 0)
    }

    /// SIGTERM while a handler is stuck in C: the other running job (a Lua loop) is released,
    /// the stuck attempt is recorded and counted (so restarts cannot loop on it), exit 70.
    @Test func shutdownWithAStuckHandler() throws {
        let p = try Project(config: Self.config.replacingOccurrences(of: "threads = 1", with: "threads = 2"), tasks: [
            "poison.lua": Self.task("return " + Self.backtracking, ttl: "60s", attempts: 2),
            "spin.lua": Self.task("while true do end", ttl: "60s", attempts: 2),
        ])
        let poison = try p.opsEnqueue("poison")
        let spin = try p.opsEnqueue("spin")
        let runner = try OpsRunner(p)
        try p.opsWaitFor(poison, "running", timeout: 30)
        try p.opsWaitFor(spin, "running", timeout: 30)
        runner.signal(SIGTERM)
        #expect(runner.waitForExit(30) == 70, "\(runner.stderr)")
        let stuck = try #require(try p.opsJob(poison))
        #expect(stuck["state"]?.stringValue == "retrying", "\(stuck)")
        #expect(stuck["runs"]?.array.first?["outcome"]?.stringValue == "aborted")
        let spun = try #require(try p.opsJob(spin))
        #expect(spun["state"]?.stringValue == "queued", "\(spun)")
        #expect(spun["runs"]?.array.first?["outcome"]?.stringValue == "released")
    }
}
