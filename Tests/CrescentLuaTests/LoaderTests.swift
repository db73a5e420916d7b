import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

@Suite struct LoaderTests {
    @Test func fullDefinition() throws {
        let fx = try Fixture(["sync.lua": """
        return {
          queue = "critical", priority = 5, timezone = "Europe/Berlin", missed = "all",
          unique = { by = "args", period = "10m" }, ttl = "2m", expires = 3600,
          retry = { attempts = 3, backoff = "linear", delay = "10s", max_delay = "5m", jitter = 0.2 },
          handler = function(job) return 1 end,
        }
        """])
        let set = fx.load()
        #expect(set.errors.isEmpty)
        let d = try #require(set.definitions.first)
        #expect(d.name == "sync")
        #expect(d.file == "tasks/sync.lua")
        #expect(d.queue == "critical")
        #expect(d.priority == 5)
        #expect(d.timezone.identifier == "Europe/Berlin")
        #expect(d.missed == .all)
        #expect(d.unique == UniquePolicy(by: .args, period: 600))
        #expect(d.ttl == 120)
        #expect(d.expires == 3600)
        #expect(d.retry == RetryPolicy(attempts: 3, backoff: .linear, delay: 10, maxDelay: 300, jitter: 0.2))
    }

    @Test func defaults() throws {
        let fx = try Fixture(["a.lua": task("return 1")])
        let d = try #require(fx.load().definitions.first)
        #expect(d.queue == "default")
        #expect(d.priority == 0)
        #expect(d.ttl == 1800)
        #expect(d.retry == .default)
        #expect(d.unique == nil)
        #expect(d.missed == .once)
        #expect(d.timezone.secondsFromGMT() == 0)
    }

    @Test func namesFromPathsAndLibIsNotATask() throws {
        let fx = try Fixture([
            "mail/digest.lua": task("return 1"),
            "renamed.lua": task("return 1", settings: "name = \"custom/name\","),
            "lib/util.lua": "return { x = 1 }",
            "lib/sub/deep.lua": "return {}",
        ])
        let set = fx.load()
        #expect(set.errors.isEmpty)
        #expect(set.definitions.map(\.name) == ["custom/name", "mail/digest"])
        #expect(fx.snapshot().modules.keys.sorted() == ["sub.deep", "util"])
    }

    @Test func uniqueForms() throws {
        let fx = try Fixture([
            "a.lua": task("", settings: "unique = true,"),
            "b.lua": task("", settings: "unique = \"args\","),
            "c.lua": task("", settings: "unique = { by = function(args) return args.id end },"),
            "d.lua": task("", settings: "unique = false,"),
        ])
        let defs = Dictionary(uniqueKeysWithValues: fx.load().definitions.map { ($0.name, $0) })
        #expect(defs["a"]?.unique == UniquePolicy(by: .task))
        #expect(defs["b"]?.unique == UniquePolicy(by: .args))
        #expect(defs["c"]?.unique == UniquePolicy(by: .function))
        #expect(defs["d"]?.unique == nil)
    }

    @Test func syntaxErrorHasFileAndLine() throws {
        let fx = try Fixture([
            "bad.lua": "return {\n  queue = \"x\",\n  handler = function(job) return 1 +\nend }\n",
            "good.lua": task("return 1"),
        ])
        let set = fx.load()
        #expect(set.definitions.map(\.name) == ["good"])
        let e = try #require(set.errors.first)
        #expect(e.file == "tasks/bad.lua")
        #expect(e.line == 4)
        #expect(e.description.hasPrefix("tasks/bad.lua:4: "))
    }

    @Test func longPathsKeepTheirLine() throws {
        let path = "very/long/folder/names/that/go/on/and/on/past/sixty/characters/task.lua"
        let fx = try Fixture([path: "return {\n  handler = function(job)\n    return 1 +\n  end,\n}\n"])
        let e = try #require(fx.load().errors.first)
        #expect(e.file == "tasks/" + path)
        #expect(e.line == 4)
        #expect(e.message.hasPrefix("unexpected symbol"))
    }

    @Test func runtimeErrorWhileLoading() throws {
        let fx = try Fixture(["boom.lua": "local x = nil\nlocal y = x.field\nreturn {}\n"])
        let e = try #require(fx.load().errors.first)
        #expect(e.file == "tasks/boom.lua")
        #expect(e.line == 2)
        #expect(e.message.contains("attempt to index"))
    }

    @Test(arguments: [
        ("ttl = \"5 parsecs\",", "field \"ttl\": duration \"5 parsecs\""),
        ("ttl = true,", "field \"ttl\" must be a duration"),
        ("ttl = 0,", "field \"ttl\" must be longer than 0s"),
        ("expires = \"soon\",", "field \"expires\""),
        ("colour = \"red\",", "unknown field \"colour\""),
        ("queue = 5,", "field \"queue\" must be a string, not 5"),
        ("queue = \"\",", "field \"queue\" must not be empty"),
        ("priority = 1.5,", "field \"priority\" must be an integer"),
        ("timezone = \"Mars/Olympus\",", "field \"timezone\": unknown time zone \"Mars/Olympus\""),
        ("missed = \"some\",", "field \"missed\" must be \"skip\", \"once\" or \"all\""),
        ("unique = \"maybe\",", "field \"unique\" must be true, \"args\", \"task\""),
        ("unique = { by = 5 },", "field \"unique\": by must be"),
        ("unique = { on = \"args\" },", "field \"unique\": unknown key \"on\""),
        ("unique = { period = \"x\" },", "field \"unique\": period"),
        ("retry = 3,", "field \"retry\" must be a table"),
        ("retry = { attempts = 0 },", "field \"retry\": attempts must be an integer of at least 1"),
        ("retry = { tries = 2 },", "field \"retry\": unknown key \"tries\""),
        ("retry = { backoff = \"random\" },", "field \"retry\": backoff must be"),
        ("retry = { delay = \"fast\" },", "field \"retry\": delay: duration \"fast\""),
        ("retry = { max_delay = {} },", "field \"retry\": max_delay must be a duration"),
        ("retry = { jitter = 2 },", "field \"retry\": jitter must be a number from 0 to 1"),
        ("name = \"\",", "field \"name\" must not be empty"),
        ("schedule = 5,", "field \"schedule\" must be a string"),
    ])
    func fieldErrors(settings: String, expected: String) throws {
        let fx = try Fixture(["t.lua": "return {\n\(settings)\nhandler = function(job) end }\n", "ok.lua": task("")])
        let set = fx.load()
        #expect(set.definitions.map(\.name) == ["ok"])
        let e = try #require(set.errors.first)
        #expect(e.file == "tasks/t.lua")
        #expect(e.line == 3)  // the handler's line
        #expect(e.message.contains(expected), "\(e.message)")
    }

    @Test func missingHandlerAndNonTable() throws {
        let fx = try Fixture([
            "nohandler.lua": "return { queue = \"q\" }",
            "handlerstring.lua": "return { handler = \"x\" }",
            "number.lua": "return 42",
            "nothing.lua": "local x = 1",
        ])
        let errors = Dictionary(uniqueKeysWithValues: fx.load().errors.map { ($0.file, $0.message) })
        #expect(errors["tasks/nohandler.lua"]?.contains("field \"handler\" is missing") == true)
        #expect(errors["tasks/handlerstring.lua"]?.contains("field \"handler\" must be a function, not a string") == true)
        #expect(errors["tasks/number.lua"]?.contains("must return a table of task settings (it returned number)") == true)
        #expect(errors["tasks/nothing.lua"]?.contains("(it returned nothing)") == true)
    }

    @Test func duplicateNameIsAnErrorForTheSecondFile() throws {
        let fx = try Fixture([
            "a.lua": task("", settings: "name = \"same\","),
            "b.lua": task("", settings: "name = \"same\","),
        ])
        let set = fx.load()
        #expect(set.definitions.map(\.file) == ["tasks/a.lua"])
        #expect(set.errors.count == 1)
        #expect(set.errors.first?.file == "tasks/b.lua")
        #expect(set.errors.first?.message.contains("already defined by tasks/a.lua") == true)
    }

    @Test func endlessLoopWhileLoadingIsStopped() throws {
        let fx = try Fixture(["spin.lua": "while true do end", "ok.lua": task("")])
        var config = fx.config()
        config.loadTimeLimit = 0.2
        let set = TaskLoader.load(fx.snapshot(), config: config)
        #expect(set.definitions.map(\.name) == ["ok"])
        #expect(set.errors.first?.message.contains("ran longer than") == true)
    }

    @Test func loadOnlySandbox() throws {
        let fx = try Fixture([
            "io.lua": "io.write('x') return {}",
            "push.lua": "queue.push('x') return {}",
            "sleep.lua": "sleep(1) return {}",
        ])
        let errors = Dictionary(uniqueKeysWithValues: fx.load().errors.map { ($0.file, $0.message) })
        #expect(errors["tasks/io.lua"]?.contains("attempt to index a nil value (global 'io')") == true)
        #expect(errors["tasks/push.lua"]?.contains("queue.push is only available inside a handler") == true)
        #expect(errors["tasks/sleep.lua"]?.contains("sleep is only available inside a handler") == true)
    }

    @Test func requireAtLoadTime() throws {
        let fx = try Fixture([
            "lib/settings.lua": "return { queue = 'from-lib' }",
            "t.lua": "local s = require('settings')\nreturn { queue = s.queue, handler = function() end }",
        ])
        let set = fx.load()
        #expect(set.errors.isEmpty)
        #expect(set.definitions.first?.queue == "from-lib")
    }

    @Test func missingTasksDir() {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-none-\(UUID().uuidString)")
        let snap = TaskSnapshot.read(tasksDir: root.appendingPathComponent("tasks"), displayRoot: root, version: 1)
        #expect(snap.files.isEmpty)
        #expect(snap.readErrors.first?.message == "tasks directory not found")
    }
}
