import CrescentCore
import CrescentLua
import CrescentStore
import Foundation
import Testing

@testable import CrescentRuntime

/// A small deterministic generator, so every run tries the same inputs and a failure can
/// be reproduced from its seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte-level mutations of a valid input: deletions, insertions of syntax characters,
/// NUL bytes and invalid UTF-8, swapped or repeated slices, truncation, and tokens from a
/// dictionary of values that tend to break parsers.
struct Mutator {
    var rng: SplitMix64
    let dictionary: [String]

    static let noise: [[UInt8]] = [
        [0], [0xFF], [0xFE, 0xFF], [0xC3, 0x28], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80],
        Array("\"".utf8), Array("'".utf8), Array("[".utf8), Array("]".utf8), Array("{".utf8), Array("}".utf8),
        Array("=".utf8), Array("\n".utf8), Array("\\".utf8), Array(",".utf8), Array(".".utf8), Array("#".utf8),
        Array("--".utf8), Array("[[".utf8), Array("]]".utf8), Array("${".utf8), Array("\t".utf8), Array("\r".utf8),
        Array("é".utf8), Array("😀".utf8), Array("\u{FEFF}".utf8),
    ]

    init(seed: UInt64, dictionary: [String]) {
        rng = SplitMix64(seed: seed)
        self.dictionary = dictionary
    }

    mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &rng) }

    mutating func randomBytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in
            int(0..<4) == 0 ? UInt8.random(in: 0...255, using: &rng) : UInt8.random(in: 0x20...0x7E, using: &rng)
        }
    }

    mutating func mutate(_ input: [UInt8], rounds: Int? = nil) -> [UInt8] {
        var b = input
        for _ in 0..<(rounds ?? int(1..<6)) {
            let at = b.isEmpty ? 0 : int(0..<(b.count + 1))
            switch int(0..<9) {
            case 0 where !b.isEmpty:  // delete a slice
                let end = min(b.count, at + int(1..<16))
                if at < end { b.removeSubrange(at..<end) }
            case 1:  // insert noise
                b.insert(contentsOf: Mutator.noise[int(0..<Mutator.noise.count)], at: at)
            case 2:  // insert a dictionary token
                b.insert(contentsOf: Array(dictionary[int(0..<dictionary.count)].utf8), at: at)
            case 3 where !b.isEmpty:  // replace a slice with a token
                let end = min(b.count, at + int(1..<12))
                if at < end { b.replaceSubrange(at..<end, with: Array(dictionary[int(0..<dictionary.count)].utf8)) }
            case 4 where b.count > 1:  // truncate
                b = Array(b.prefix(int(0..<b.count)))
            case 5 where !b.isEmpty:  // repeat a slice
                let end = min(b.count, at + int(1..<40))
                if at < end { b.insert(contentsOf: b[at..<end], at: at) }
            case 6 where !b.isEmpty:  // flip a byte
                let i = min(at, b.count - 1)
                b[i] ^= UInt8(1 << int(0..<8))
            case 7:  // random bytes
                b.insert(contentsOf: randomBytes(int(1..<8)), at: at)
            default:  // swap two slices
                guard b.count > 4 else { continue }
                let i = int(0..<(b.count / 2)), j = int((b.count / 2)..<b.count)
                b.swapAt(i, j)
            }
        }
        return b
    }
}

/// Bad input never crashes and never half-applies: thousands of generated inputs through
/// the parsers the CLI, the runner and the HTTP API use.
@Suite struct FuzzTests {
    // MARK: config

    static let validConfig = """
        database   = "crescent.db"
        durability = "normal"
        tasks      = "tasks"

        [workers]
        threads          = 2
        memory           = "256MB"
        lease            = "10s"
        shutdown_timeout = "30s"

        [[queues]]
        name        = "critical"
        concurrency = 10
        [[queues]]
        name        = "default"
        concurrency = 100

        [http]
        listen   = "127.0.0.1:7420"
        password = "${CRESCENT_PASSWORD}"

        [http_client]
        max_connections_per_host = 256
        timeout                  = "30s"

        [log]
        format = "json"
        level  = "info"

        [retention]
        succeeded = "1d"
        dead      = "30d"

        [env]
        NORTHSTAR_URL = "https://example.org"
        """

    static let configTokens = [
        "\"1s\"", "-5", "0", "1e999", "-1e999", "nan", "inf", "\"${NOPE}\"", "\"${\"", "[1, 2]", "{ a = 1 }", "true",
        "\"\"", "\"0.0.0.0:80\"", "\"[::1]:99999\"", "99999999999999999999", "9223372036854775807", "-9223372036854775808",
        "\"256XB\"", "\"1e300GB\"", "\"infMB\"", "\"nanKB\"", "\"-1MB\"", "\"1e18\"", "\"1e400s\"", "\"-3s\"", "\"5 parsecs\"",
        "1979-05-27T07:32:00Z", "[[queues]]", "[workers]", "[http]", "[env]", "[retention]", "name = \"x\"", "threads = 0",
        "lease = \"0.5s\"", "concurrency = -1", "\"\\u0000\"", "'''", "\"\"\"", "0x7FFFFFFFFFFFFFFF", "1_000", "+inf",
        "memory = 1e20", "memory = \"9999999999999GB\"", "timeout = 0", "listen = \":\"", "a.b.c = 1", "\"quoted key\" = 1",
    ]

    @Test func configParserSurvivesMutations() {
        var m = Mutator(seed: 0xC0FF_EE01, dictionary: Self.configTokens)
        let base = Array(Self.validConfig.utf8)
        let env = ["CRESCENT_PASSWORD": "secret"]
        var tried = 0, accepted = 0, refused = 0
        var badErrors: [String] = []
        for i in 0..<4000 {
            let bytes = i % 10 == 9 ? m.randomBytes(m.int(0..<200)) : m.mutate(base)
            let text = String(decoding: bytes, as: UTF8.self)
            tried += 1
            if ProcessInfo.processInfo.environment["FUZZ_TRACE"] != nil { try? Data(text.utf8).write(to: URL(fileURLWithPath: "/tmp/fuzz-last.toml")) }
            do {
                let c = try Config.parse(text, file: "/srv/app/crescent.toml", environment: env)
                accepted += 1
                if c.queues.isEmpty || c.threads < 1 || c.lease < 1 || c.memoryLimit <= 0 || c.queues.contains(where: { $0.concurrency < 1 }) {
                    badErrors.append("accepted an invalid config: \(text.debugDescription)")
                }
            } catch {
                refused += 1
                if error.kind != .config || error.exitCode != 2 || error.message.isEmpty || error.file != "/srv/app/crescent.toml" {
                    badErrors.append("\(error.kind) \(error.description) for \(text.debugDescription)")
                }
            }
        }
        // Keys with edge values, one at a time, on the valid config.
        for token in Self.configTokens {
            for key in ["threads", "memory", "lease", "shutdown_timeout", "concurrency", "timeout", "succeeded", "dead", "listen", "level"] {
                let text = Self.validConfig.replacingOccurrences(
                    of: "\n\(key) ", with: "\n\(key) = \(token)\n_\(key) ", options: [], range: nil)
                tried += 1
                do {
                    _ = try Config.parse(text, file: "/srv/app/crescent.toml", environment: env)
                    accepted += 1
                } catch {
                    refused += 1
                    if error.kind != .config || error.file != "/srv/app/crescent.toml" { badErrors.append(error.description) }
                }
            }
        }
        print("config fuzz: \(tried) inputs, \(accepted) accepted, \(refused) refused with a config error, 0 crashes")
        #expect(badErrors.isEmpty, "\(badErrors.prefix(5))")
        #expect(refused > 0 && accepted > 0)
    }

    /// Table headers that once aborted the TOML parser (an assertion in TOMLKit's C++
    /// parser) are refused as config errors; valid headers still parse.
    @Test func tableHeadersThatCannotStartAKey() {
        let bad = ["[=", "[", "[[", "[ \t", "a = 1\n[ # c", "[+a]", "[é]", "[*]", "[\r\nb = 1", "[workers]\r\n[\r\n",
                   "\u{FEFF}[=", "  [=", "[[ = 1", "[\u{0}]"]
        for text in bad {
            #expect(throws: CrescentError.self, "\(text.debugDescription)") {
                try Config.parse(text, file: "/srv/app/crescent.toml", environment: [:])
            }
        }
        let good = ["[workers]\nthreads = 2", "[ workers ]\nthreads = 2", "[[queues]]\nname = \"a\"", "[\"env\"]\nA = 1",
                    "[env]\nPEM = \"\"\"\n[=\n\"\"\"", "[env]\r\nA = 1\r\n", "\u{FEFF}[workers]\nthreads = 1"]
        for text in good {
            #expect(throws: Never.self, "\(text.debugDescription)") {
                try Config.parse(text, file: "/srv/app/crescent.toml", environment: [:])
            }
        }
    }

    // MARK: task files

    static let validTasks = [
        """
        return {
          queue    = "default",
          priority = 0,
          schedule = "*/5 * * * *",
          timezone = "Europe/Berlin",
          missed   = "once",
          unique   = true,
          ttl      = "2m",
          expires  = "1h",
          retry    = { attempts = 5, backoff = "exponential", delay = "15s", max_delay = "1h", jitter = 0.1 },
          handler  = function(job)
            local res = http.get(env.NORTHSTAR_URL .. "/users/" .. job.args.id, { timeout = "5s" })
            if res.status ~= 200 then error("northstar answered " .. res.status) end
            queue.push("mail/welcome", { id = job.args.id })
            return { synced = true }
          end,
        }
        """,
        """
        local lib = require("shared")
        return { unique = { by = function(args) return "u-" .. tostring(args.id) end, period = "10m" },
                 handler = function(job) return lib.double(job.args.n) end }
        """,
        "return { schedule = '@every 90s', missed = 'all', handler = function(job) return job.scheduled_for end }",
        "return { schedule = 'at 2026-12-24T18:00:00Z', retry = { backoff = 'linear' }, handler = function() end }",
    ]

    static let luaTokens = [
        "nil", "1e308", "-1", "0/0", "math.huge", "2^63", "\"\"", "{}", "function() end", "...", "end", "return", "local",
        "while true do end", "error('x')", "error(nil)", "error({})", "setmetatable({}, {__index = function() error('idx') end})",
        "coroutine.yield()", "string.rep('x', 2^40)", "\"@every 0s\"", "\"*/0 * * * *\"", "\"Mars/Olympus\"", "\"1e400s\"",
        "\"-5s\"", "{ by = 3 }", "{ attempts = 1e18 }", "{ attempts = -1 }", "name = \"\"", "name = 5", "queue = \"\"",
        "handler = 5", "os.exit(1)", "io.open('/etc/passwd')", "debug.traceback()", "load('return 1')", "require('nope')",
        "require('shared')", "\"\\0\"", "[[", "]]", "--[[", "goto x", "::x::", "#", "~=", "..", "\\xff",
    ]

    /// Adversarial files every loader must refuse (or accept) without crashing or hanging.
    static let hostileTasks: [String: [UInt8]] = [
        "loop.lua": Array("while true do end".utf8),
        "recursion.lua": Array("local function f() return f() + 1 end return f()".utf8),
        "memory.lua": Array("local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 1e6) .. i end".utf8),
        "huge_rep.lua": Array("return string.rep('x', 2^40)".utf8),
        "yield.lua": Array("return coroutine.yield()".utf8),
        "error_nil.lua": Array("error(nil)".utf8),
        "error_table.lua": Array("error({})".utf8),
        "error_tostring.lua": Array("error(setmetatable({}, {__tostring = function() error('nested') end}))".utf8),
        "index_trap.lua": Array("return setmetatable({}, {__index = function() error('boom') end})".utf8),
        "not_table.lua": Array("return 42".utf8),
        "nothing.lua": [],
        "nul.lua": Array("return {\0 handler = function() end }".utf8),
        "nul_in_string.lua": Array("return { name = 'a\0b', handler = function() end }".utf8),
        "invalid_utf8.lua": Array("return { queue = '".utf8) + [0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80] + Array("', handler = function() end }".utf8),
        "bom.lua": [0xEF, 0xBB, 0xBF] + Array("return { handler = function() end }".utf8),
        "long_name.lua": Array("return { name = string.rep('n', 100000), handler = function() end }".utf8),
        "ttl_inf.lua": Array("return { ttl = 1e308, handler = function() end }".utf8),
        "ttl_nan.lua": Array("return { ttl = 0/0, handler = function() end }".utf8),
        "priority_big.lua": Array("return { priority = 2^63, handler = function() end }".utf8),
        "priority_float.lua": Array("return { priority = 1e300, handler = function() end }".utf8),
        "attempts_big.lua": Array("return { retry = { attempts = 1e18 }, handler = function() end }".utf8),
        "delay_inf.lua": Array("return { retry = { delay = math.huge, max_delay = -1 }, handler = function() end }".utf8),
        "jitter_bad.lua": Array("return { retry = { jitter = 7 }, handler = function() end }".utf8),
        "every_zero.lua": Array("return { schedule = '@every 0s', handler = function() end }".utf8),
        "every_huge.lua": Array("return { schedule = 'every 1e300 hours', handler = function() end }".utf8),
        "step_zero.lua": Array("return { schedule = '*/0 * * * *', handler = function() end }".utf8),
        "bad_zone.lua": Array("return { schedule = '0 8 * * *', timezone = 'Mars/Olympus', handler = function() end }".utf8),
        "unique_bad.lua": Array("return { unique = { by = 3, period = '-1s' }, handler = function() end }".utf8),
        "gc_trap.lua": Array("setmetatable({}, {__gc = function() error('gc') end}) return { handler = function() end }".utf8),
        "sandbox.lua": Array("os.exit(3) return { handler = function() end }".utf8),
        "deep.lua": Array(("return " + String(repeating: "{", count: 300) + String(repeating: "}", count: 300)).utf8),
        "deep_syntax.lua": Array(("return " + String(repeating: "(", count: 100_000)).utf8),
    ]

    func load(_ files: [String: [UInt8]], memory: Int = 32 << 20) throws -> (TaskSnapshot, TaskSet) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-fuzz-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tasks = dir.appendingPathComponent("tasks")
        try FileManager.default.createDirectory(at: tasks.appendingPathComponent("lib"), withIntermediateDirectories: true)
        try Data("return { double = function(n) return n * 2 end }".utf8).write(to: tasks.appendingPathComponent("lib/shared.lua"))
        for (name, bytes) in files { try Data(bytes).write(to: tasks.appendingPathComponent(name)) }
        let config = LuaConfig(tasksDir: tasks, displayRoot: dir, memoryLimit: memory, loadTimeLimit: 0.5)
        let snapshot = TaskSnapshot.read(tasksDir: tasks, displayRoot: dir, version: 1)
        return (snapshot, TaskLoader.load(snapshot, config: config))
    }

    /// Each file of the snapshot ends as a task or as an error naming that file.
    func accountFor(_ snapshot: TaskSnapshot, _ set: TaskSet) -> [String] {
        var problems: [String] = []
        for file in snapshot.files {
            let defined = set.definitions.contains { $0.file == file.displayPath }
            let failed = set.errors.contains { $0.file == file.displayPath && !$0.message.isEmpty }
            if defined == failed { problems.append("\(file.displayPath): defined \(defined), error \(failed)") }
        }
        return problems
    }

    @Test func hostileTaskFilesFailCleanly() throws {
        let (snapshot, set) = try load(Self.hostileTasks)
        #expect(snapshot.files.count == Self.hostileTasks.count)
        let problems = accountFor(snapshot, set)
        #expect(problems.isEmpty, "\(problems)")
        for name in ["loop", "recursion", "memory", "huge_rep", "yield", "error_nil", "error_table", "error_tostring",
                     "index_trap", "not_table", "nothing", "nul", "ttl_nan", "every_zero", "step_zero", "bad_zone", "sandbox"] {
            #expect(set.errors.contains { $0.file == "tasks/\(name).lua" }, "\(name).lua is refused")
        }
        for error in set.errors { print("  \(error)".prefix(200)) }
        print("hostile task files: \(Self.hostileTasks.count) files, \(set.definitions.count) loaded, \(set.errors.count) refused, 0 crashes")
    }

    @Test func taskLoaderSurvivesMutations() throws {
        var m = Mutator(seed: 0x7A5C_0002, dictionary: Self.luaTokens)
        let bases = Self.validTasks.map { Array($0.utf8) }
        var tried = 0, loaded = 0, refused = 0
        var problems: [String] = []
        for batch in 0..<40 {
            var files: [String: [UInt8]] = [:]
            for i in 0..<50 {
                let bytes = i == 49 ? m.randomBytes(m.int(0..<300)) : m.mutate(bases[(batch + i) % bases.count], rounds: m.int(1..<4))
                files["f\(batch)_\(i).lua"] = bytes
            }
            let (snapshot, set) = try load(files)
            tried += snapshot.files.count
            loaded += set.definitions.count
            refused += set.errors.count
            problems += accountFor(snapshot, set)
        }
        print("task file fuzz: \(tried) files, \(loaded) loaded, \(refused) refused with an error, 0 crashes")
        #expect(tried == 2000)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        #expect(loaded > 0 && refused > 0)
    }

    // MARK: JSON

    static let jsonSamples = [
        #"{"id": 42, "name": "Ada", "tags": ["a", "b"], "nested": {"x": 1.5, "y": null, "z": true}}"#,
        #"[1, -2, 3.25e10, "\u00e9\ud83d\ude00", "\n\t\"\\", [], {}]"#,
        #"{"a": {"b": {"c": [false, 0, -0, 1e-7]}}}"#,
    ]
    static let jsonTokens = [
        "1e999", "-1e999", "123456789012345678901234567890", "-0", "0.", ".5", "01", "\"\\ud800\"", "\"\\udc00\\ud800\"",
        "\"\\u0000\"", "\"\\x41\"", "NaN", "Infinity", "true", "nul", "[", "]", "{", "}", ",", ":", "\"", "\\",
        "\"\\uZZZZ\"", "9223372036854775808", "-9223372036854775809", "1e-400", "[[[[[[", "{\"\":", "\u{0}",
    ]

    @Test func jsonDecoderSurvivesMutations() throws {
        var m = Mutator(seed: 0x15_0003, dictionary: Self.jsonTokens)
        let bases = Self.jsonSamples.map { Array($0.utf8) }
        var tried = 0, accepted = 0, refused = 0
        var problems: [String] = []
        func check(_ text: String) {
            tried += 1
            do {
                let v = try JSONValue.decode(text)
                accepted += 1
                let again = try JSONValue.decode(v.encoded())
                if again.encoded() != v.encoded() { problems.append("not canonical: \(text.debugDescription)") }
            } catch {
                refused += 1
                if error.exitCode != 2 || !error.message.contains("JSON") { problems.append("\(error) for \(text.debugDescription)") }
            }
        }
        for i in 0..<20000 {
            let bytes = i % 10 == 9 ? m.randomBytes(m.int(0..<64)) : m.mutate(bases[i % bases.count])
            check(String(decoding: bytes, as: UTF8.self))
        }
        // 1000 levels of nesting, both kinds, and a huge string.
        check(String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000))
        check(String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000))
        check(String(repeating: "[", count: 100_000))
        let deep = String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)
        #expect(throws: CrescentError.self) { try JSONValue.decode(deep) }
        let huge = String(repeating: "é\u{1F600}x", count: 2_000_000)
        let big = try JSONValue.decode(JSONValue.object(["s": .string(huge)]).encoded())
        #expect(big["s"]?.stringValue == huge)
        print("JSON fuzz: \(tried) inputs, \(accepted) accepted, \(refused) refused with an error, 0 crashes")
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    // MARK: enqueue

    @Test func enqueuerValidatesBeforeWriting() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-fuzz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteJobStore(path: dir.appendingPathComponent("jobs.db").path)
        let registry = TaskRegistry()
        var unique = TaskDefinition(name: "unique", file: "tasks/unique.lua")
        unique.unique = UniquePolicy(by: .args)
        registry.install(definitions: [TaskDefinition(name: "t", file: "tasks/t.lua"), unique], errors: [], version: 1)
        let enqueuer = Enqueuer(store: store, registry: registry, functionKey: { _, _ in nil })

        var m = Mutator(seed: 0xE0_0004, dictionary: Self.jsonTokens)
        let bases = Self.jsonSamples.map { Array($0.utf8) } + [Array("{}".utf8), Array(#"{"n": 1}"#.utf8)]
        let queues: [String?] = [nil, "default", "", "   ", "critical", "q\u{0}x", String(repeating: "q", count: 10_000), "é😀"]
        let tasks = ["t", "t", "t", "unique", "nope", "", "T", "t\u{0}"]
        var inserted = Set<Int64>()
        var tried = 0, accepted = 0, duplicates = 0, refused = 0
        var problems: [String] = []
        for i in 0..<3000 {
            let args: String? = i % 50 == 0 ? nil : String(decoding: m.mutate(bases[i % bases.count], rounds: m.int(0..<3)), as: UTF8.self)
            let request = Enqueuer.Request(task: tasks[m.int(0..<tasks.count)], args: args, queue: queues[m.int(0..<queues.count)],
                                           priority: m.int(0..<3) == 0 ? Int.random(in: Int.min...Int.max, using: &m.rng) : nil)
            tried += 1
            let result: JobInsertResult
            do {
                result = try enqueuer.enqueue(request)
            } catch {
                refused += 1
                if ![1, 2].contains(error.exitCode) || error.message.isEmpty { problems.append("\(error)") }
                continue
            }
            if result.duplicate { duplicates += 1 } else { accepted += 1; inserted.insert(result.id) }
            guard let job = try store.jobGet(id: result.id) else { problems.append("job \(result.id) missing"); continue }
            if !result.duplicate, job.args != (try? Enqueuer.canonicalArgs(args)) { problems.append("args of \(result.id) not canonical") }
        }
        // Deep and huge args.
        for text in [String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000),
                     String(repeating: "{\"a\":", count: 1000) + "1" + String(repeating: "}", count: 1000)] {
            tried += 1
            #expect(throws: CrescentError.self) { try enqueuer.enqueue(.init(task: "t", args: text)) }
            refused += 1
        }
        // Args over the size limit are refused with its name; args of exactly the limit go in.
        let huge = JSONValue.object(["s": .string(String(repeating: "x", count: 5_000_000))]).encoded()
        tried += 1
        #expect {
            try enqueuer.enqueue(.init(task: "t", args: huge))
        } throws: { error in
            "\(error)".contains("more than the \(SizeLimits.describe(SizeLimits.args)) a job's args may hold")
        }
        refused += 1
        let largest = JSONValue.object(["s": .string(String(repeating: "x", count: SizeLimits.args - 8))]).encoded()
        #expect(largest.utf8.count == SizeLimits.args)
        let largestID = try enqueuer.enqueue(.init(task: "t", args: largest)).id
        inserted.insert(largestID)
        tried += 1; accepted += 1
        #expect(try store.jobGet(id: largestID)?.args == largest)

        let stored = try store.jobCounts().reduce(0) { $0 + $1.count }
        print("enqueue fuzz: \(tried) requests, \(accepted) inserted, \(duplicates) duplicates, \(refused) refused, \(stored) jobs stored, 0 crashes")
        #expect(stored == inserted.count, "a refused request wrote nothing")
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }
}
