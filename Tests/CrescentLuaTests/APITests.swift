import CrescentCore
import Foundation
import Logging
import Testing
@testable import CrescentLua

@Suite struct JSONAPITests {
    @Test func encodeDecode() throws {
        let fx = try Fixture(["t.lua": task(#"""
            local out = {}
            out.empty = json.encode({})
            out.array = json.encode({1, 2, "x"})
            out.object = json.encode({b = 1, a = {true, false}})
            out.float = json.encode(1.5)
            out.null_enc = json.encode({1, json.null, 3})
            local d = json.decode('{"a":[1,2,{"b":null}],"s":"h\\u00e9"}')
            out.a2 = d.a[2]
            out.isnull = d.a[3].b == json.null
            out.s = d.s
            out.top = json.decode("5")
            local ok, e = pcall(json.encode, function() end)
            out.fn_err = e
            local cyc = {} cyc.self = cyc
            ok, e = pcall(json.encode, cyc)
            out.cyc_err = e
            ok, e = pcall(json.decode, "{bad")
            out.bad_err = e
            ok, e = pcall(json.encode, 0/0)
            out.nan_err = e
            return out
            """#)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let v = try #require(succeeded(run(worker, makeJob(task: "t"))))
        #expect(v["empty"] == .string("{}"))
        #expect(v["array"] == .string(#"[1,2,"x"]"#))
        #expect(v["object"] == .string(#"{"a":[true,false],"b":1}"#))
        #expect(v["float"] == .string("1.5"))
        #expect(v["null_enc"] == .string("[1,null,3]"))
        #expect(v["a2"] == .int(2))
        #expect(v["isnull"] == .bool(true))
        #expect(v["s"] == .string("hé"))
        #expect(v["top"] == .int(5))
        #expect(v["fn_err"]?.stringValue?.contains("json.encode: cannot encode a function value") == true)
        #expect(v["cyc_err"]?.stringValue?.contains("cannot encode a cyclic table") == true)
        #expect(v["bad_err"]?.stringValue?.contains("json.decode: invalid JSON") == true)
        #expect(v["nan_err"]?.stringValue?.contains("JSON has no NaN") == true)
        // Errors carry the task file's position.
        #expect(v["fn_err"]?.stringValue?.hasPrefix("tasks/t.lua:") == true)
    }
}

@Suite struct LogEnvTimeTests {
    @Test func logCarriesJobMetadata() throws {
        let fx = try Fixture(["t.lua": task("log.warn('sync done', { user = 5, tags = {'a'} })\nprint('hello', 1)")])
        let logs = LogCapture()
        let (worker, _) = try fx.worker(logs: logs)
        defer { worker.shutdown() }
        _ = run(worker, makeJob(9, task: "t", attempt: 2, queue: "mail"))
        let entry = try #require(logs.entries.first { $0.message == "sync done" })
        #expect(entry.level == .warning)
        #expect(entry.metadata["job.id"]?.description == "9")
        #expect(entry.metadata["task"]?.description == "t")
        #expect(entry.metadata["queue"]?.description == "mail")
        #expect(entry.metadata["attempt"]?.description == "2")
        #expect(entry.metadata["user"]?.description == "5")
        #expect(logs.entries.contains { $0.message == "hello\t1" && $0.level == .info })
    }

    @Test func envIsReadOnlyConfigValues() throws {
        let fx = try Fixture(["t.lua": task("""
            local ok, e = pcall(function() env.NEW = 1 end)
            return { url = env.NORTHSTAR_URL, missing = env.HOME == nil and env.PATH == nil, err = e }
            """)])
        let (worker, _) = try fx.worker(env: ["NORTHSTAR_URL": "https://example.org"])
        defer { worker.shutdown() }
        let v = try #require(succeeded(run(worker, makeJob(task: "t"))))
        #expect(v["url"] == .string("https://example.org"))
        #expect(v["missing"] == .bool(true))
        #expect(v["err"]?.stringValue?.contains("env is read-only") == true)
    }

    @Test func nowAndSleep() throws {
        let fx = try Fixture(["t.lua": task("""
            local a = now()
            sleep(0.05)
            local b = now()
            local ok, e = pcall(sleep, "soon")
            return { a = a, slept = b - a, err = e }
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let before = Date().timeIntervalSince1970
        let v = try #require(succeeded(run(worker, makeJob(task: "t"))))
        let a = try #require(v["a"]?.doubleValue)
        #expect(abs(a - before) < 60)
        #expect((v["slept"]?.doubleValue ?? 0) >= 0.04)
        #expect(v["err"]?.stringValue?.contains("sleep: duration \"soon\"") == true)
    }

    @Test func sleepInsideUserCoroutineIsRefused() throws {
        let fx = try Fixture(["t.lua": task("""
            local co = coroutine.create(function() sleep(0.01) end)
            local ok, e = coroutine.resume(co)
            return e
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        #expect(succeeded(run(worker, makeJob(task: "t")))?.stringValue?.contains("inside a coroutine created by the handler") == true)
    }
}

@Suite struct QueueAPITests {
    static let files = [
        "parent.lua": task("""
            local id, dup = queue.push("child", { n = job.args.n or 1 }, { queue = "other", priority = 3, delay = "1m" })
            local id2, dup2 = queue.push("uniq", { x = 1 })
            local id3, dup3 = queue.push("uniq", { x = 1 })
            local id4 = queue.push("byfn", { user = 7, other = 1 })
            if job.args.fail then error("no") end
            return { id = id, dup = dup, id2 = id2, id3 = id3, dup3 = dup3, id4 = id4 }
            """),
        "child.lua": task(""),
        "uniq.lua": task("", settings: "unique = { by = \"args\", period = \"10m\" },"),
        "byfn.lua": task("", settings: "unique = { by = function(args) return args.user end },"),
        "bad.lua": task("return { pcall(queue.push, \"missing\", {}) }"),
        "badopts.lua": task("return { pcall(queue.push, \"child\", {}, { colour = 1 }) }"),
        "existing.lua": task("return { queue.push(\"uniq\", { x = 2 }) }"),
        "at.lua": task("queue.push(\"child\", {}, { at = \"2030-01-01T00:00:00Z\", unique = true })"),
    ]

    @Test func pushesAreRecordedOnSuccess() throws {
        let fx = try Fixture(Self.files)
        let (worker, host) = try fx.worker()
        defer { worker.shutdown() }
        let before = Date()
        let r = try #require(run(worker, makeJob(task: "parent", args: #"{"n":4}"#)))
        let v = try #require(succeeded(r), "\(r.outcome)")
        #expect(v["dup"] == .bool(false))
        #expect(v["id3"] == v["id2"])
        #expect(v["dup3"] == .bool(true))
        #expect(r.pushes.count == 3)
        let child = try #require(r.pushes.first { $0.task == "child" })
        #expect(child.id == v["id"]?.intValue)
        #expect(child.queue == "other")
        #expect(child.priority == 3)
        #expect(child.args == #"{"n":4}"#)
        #expect(child.runAt.timeIntervalSince(before) > 50)
        #expect(child.uniqueKey == nil)
        let uniq = try #require(r.pushes.first { $0.task == "uniq" })
        #expect(uniq.uniqueKey == #"uniq:{"x":1}"#)
        #expect(uniq.uniquePeriod == 600)
        let byfn = try #require(r.pushes.first { $0.task == "byfn" })
        #expect(byfn.uniqueKey == "byfn:7")
        #expect(host.uniqueQueries.contains { $0.0 == #"uniq:{"x":1}"# && $0.1 == 600 })
    }

    @Test func failedAttemptPushesNothing() throws {
        let fx = try Fixture(Self.files)
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let r = try #require(run(worker, makeJob(task: "parent", args: #"{"fail":true}"#)))
        #expect(failure(r) != nil)
        #expect(r.pushes.isEmpty)
    }

    @Test func duplicatesOfActiveJobsAndErrors() throws {
        let fx = try Fixture(Self.files)
        let host = TestHost()
        host.active[#"uniq:{"x":2}"#] = 77
        let (worker, _) = try fx.worker(host: host)
        defer { worker.shutdown() }
        let existing = try #require(run(worker, makeJob(task: "existing")))
        #expect(succeeded(existing) == .array([.int(77), .bool(true)]))
        #expect(existing.pushes.isEmpty)
        let bad = succeeded(run(worker, makeJob(task: "bad")))
        #expect(bad?[safe: 1]?.stringValue?.contains("queue.push: unknown task \"missing\"") == true)
        let badOpts = succeeded(run(worker, makeJob(task: "badopts")))
        #expect(badOpts?[safe: 1]?.stringValue?.contains("unknown option \"colour\"") == true)
        let at = try #require(run(worker, makeJob(task: "at")))
        #expect(at.pushes.first?.runAt == Date(timeIntervalSince1970: 1_893_456_000))
        #expect(at.pushes.first?.uniqueKey == "child")
    }
}

@Suite struct StoreAPITests {
    @Test func getSetDeleteArePendingUntilSuccess() throws {
        let fx = try Fixture(["s.lua": task("""
            local before = store.get("cursor")
            store.set("cursor", { page = 2 })
            local mid = store.get("cursor")
            store.delete("old")
            local gone = store.get("old")
            store.set("count", 5)
            if job.args.fail then error("stop") end
            return { before = before, mid = mid, gone = gone == nil }
            """)])
        let host = TestHost()
        host.store["s/cursor"] = .object(["page": .int(1)])
        host.store["s/old"] = .string("x")
        let (worker, _) = try fx.worker(host: host)
        defer { worker.shutdown() }
        let r = try #require(run(worker, makeJob(task: "s")))
        let v = try #require(succeeded(r))
        #expect(v["before"] == .object(["page": .int(1)]))
        #expect(v["mid"] == .object(["page": .int(2)]))
        #expect(v["gone"] == .bool(true))
        #expect(r.storeWrites == [
            StoreWrite(task: "s", key: "cursor", value: #"{"page":2}"#),
            StoreWrite(task: "s", key: "old", value: nil),
            StoreWrite(task: "s", key: "count", value: "5"),
        ])
        let failed = try #require(run(worker, makeJob(task: "s", args: #"{"fail":true}"#)))
        #expect(failure(failed) != nil)
        #expect(failed.storeWrites.isEmpty)
    }

    @Test func badValues() throws {
        let fx = try Fixture(["s.lua": task("""
            local ok1, e1 = pcall(store.set, "k", function() end)
            local ok2, e2 = pcall(store.get, 5)
            return { e1 = e1, e2 = e2 }
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let v = try #require(succeeded(run(worker, makeJob(task: "s"))))
        #expect(v["e1"]?.stringValue?.contains("store.set: cannot encode a function value") == true)
        #expect(v["e2"]?.stringValue?.contains("store.get: the key must be a non-empty string") == true)
    }
}

@Suite struct SandboxTests {
    @Test func allowListOnly() throws {
        let fx = try Fixture([
            "t.lua": task("""
                return {
                  io = io == nil, execute = os.execute == nil, exit = os.exit == nil, remove = os.remove == nil,
                  getenv = os.getenv == nil, debug = debug == nil, loadfile = loadfile == nil, dofile = dofile == nil,
                  package = package == nil, time = type(os.time()), date = type(os.date("%Y")), clock = type(os.clock()),
                  string = string.upper("a"), utf8 = utf8.char(72), math = math.floor(2.5), tbl = table.concat({1, 2}, ","),
                  co = type(coroutine.wrap), load = load("return 1 + 1")(),
                  binary = select(2, load(string.dump and "x" or "\\27Lua", "b", "b")) ~= nil,
                  global_leak = rawget(_G, "leak") == nil,
                }
                """),
            "leak.lua": task("leak = 1 return 1"),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        _ = run(worker, makeJob(task: "leak"))
        let v = try #require(succeeded(run(worker, makeJob(task: "t"))))
        for key in ["io", "execute", "exit", "remove", "getenv", "debug", "loadfile", "dofile", "package", "global_leak", "binary"] {
            #expect(v[key] == .bool(true), "\(key)")
        }
        #expect(v["time"] == .string("number"))
        #expect(v["date"] == .string("string"))
        #expect(v["string"] == .string("A"))
        #expect(v["utf8"] == .string("H"))
        #expect(v["math"] == .int(2))
        #expect(v["tbl"] == .string("1,2"))
        #expect(v["co"] == .string("function"))
        #expect(v["load"] == .int(2))
    }

    @Test func requireOnlyFromLib() throws {
        let fx = try Fixture([
            "lib/greet.lua": "local M = {} function M.hi(n) return 'hi ' .. n end return M",
            "lib/sub/inner.lua": "return { v = require('greet').hi('inner') }",
            "other.lua": task("return 1"),
            "t.lua": task("""
                local g = require("greet")
                local ok1, e1 = pcall(require, "other")
                local ok2, e2 = pcall(require, "os")
                return { hi = g.hi("ada"), same = require("greet") == g, inner = require("sub.inner").v, e1 = e1, e2 = e2 }
                """),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let v = try #require(succeeded(run(worker, makeJob(task: "t"))))
        #expect(v["hi"] == .string("hi ada"))
        #expect(v["same"] == .bool(true))
        #expect(v["inner"] == .string("hi inner"))
        #expect(v["e1"]?.stringValue?.contains("module \"other\" not found") == true)
        #expect(v["e2"]?.stringValue?.contains("module \"os\" not found") == true)
    }

    @Test func stringLibraryChangesStayInTheirTask() throws {
        let fx = try Fixture([
            "a.lua": task("string.shout = function(s) return s .. '!' end return string.shout('a')"),
            "b.lua": task("return string.shout == nil"),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        #expect(succeeded(run(worker, makeJob(task: "a"))) == .string("a!"))
        #expect(succeeded(run(worker, makeJob(task: "b"))) == .bool(true))
    }
}

extension JSONValue {
    subscript(safe index: Int) -> JSONValue? {
        if case .array(let a) = self, index < a.count { return a[index] }
        return nil
    }
}
