import CrescentCore
import Foundation
import Testing

/// Size limits of a job's data and the memory cap around pending effects (issue 18,
/// item 6), against the real binary: each limit is a clear error and nothing is written.
@Suite(.serialized) struct SizeLimitBinaryTests {
    static func config(memory: String) -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 1
        memory = "\(memory)"
        [log]
        format = "json"
        level = "warn"
        """
    }

    static func task(_ body: String, ttl: String = "2s") -> String {
        """
        return {
          ttl = "\(ttl)",
          retry = { attempts = 1 },
          handler = function(job)
            \(body)
          end,
        }
        """
    }

    func runs(_ p: Project, id: Int64) throws -> [JSONValue] {
        try #require(try p.run(["job", "\(id)", "--json"]).json)["runs"]?.array ?? []
    }

    func enqueue(_ p: Project, _ task: String) throws -> Int64 {
        let e = try p.run(["enqueue", task])
        #expect(e.code == 0, "\(e.stderr)")
        return try #require(Int64(e.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// The audit's reproduction: 25 store values of 8 MB with a 64 MB cap wrote 210 MB. Now
    /// the first is refused (a store value holds 1 MB at most) and nothing is written.
    @Test func theAuditsStoreFloodWritesNothing() throws {
        let p = try Project(config: Self.config(memory: "64MB"), tasks: [
            "flood.lua": Self.task(#"for i = 1, 25 do store.set("k" .. i, ("x"):rep(8e6)) end"#),
        ])
        let id = try enqueue(p, "flood")
        let r = try p.run(["run", "--limit", "1"], timeout: 60)
        #expect(r.code == 0, "\(r.stderr)")
        let runs = try runs(p, id: id)
        #expect(runs.map { $0["outcome"] } == [.string("failed")])
        let error = runs.first?["error"]?.stringValue ?? ""
        #expect(error.contains("store.set: the value of \"k1\" is 8000002 bytes of JSON, more than the 1 MB a store value may hold"), "\(error)")
        #expect(p.sqlInt("SELECT count(*) FROM kv WHERE task = 'flood'") == 0)
        if TestStore.isSQLite { #expect(p.fileSize(p.databasePath) < 4 << 20) }
        print("store flood: \(error); database \(p.fileSize(p.databasePath)) bytes")
    }

    /// Values under the value limit but past the memory cap together: the attempt ends
    /// `memory limit exceeded` even though the handler catches every error, and nothing is
    /// written. Pushes count the same way.
    @Test func pendingEffectsPastTheMemoryCapAbortTheAttempt() throws {
        let p = try Project(config: Self.config(memory: "32MB"), tasks: [
            "caught.lua": Self.task("""
                for i = 1, 50 do pcall(store.set, "k" .. i, ("x"):rep(900000)) end
                return "done"
                """, ttl: "60s"),
            "pushes.lua": Self.task(#"for i = 1, 600 do queue.push("child", { blob = ("x"):rep(60000) }) end"#, ttl: "60s"),
            "child.lua": Self.task("return 1"),
        ])
        let caught = try enqueue(p, "caught")
        let pushes = try enqueue(p, "pushes")
        let r = try p.run(["run", "--limit", "2"], timeout: 60)
        #expect(r.code == 0, "\(r.stderr)")
        for id in [caught, pushes] {
            let runs = try runs(p, id: id)
            #expect(runs.map { $0["outcome"] } == [.string("aborted")])
            #expect(runs.first?["error"] == .string("memory limit exceeded"))
        }
        #expect(p.sqlInt("SELECT count(*) FROM kv WHERE task IN ('caught', 'pushes', 'big', 'fan')") == 0)
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'child'") == 0)
    }

    /// A result over 1 MB fails the attempt; more than 100,000 pushes in one attempt is refused.
    @Test func resultAndPushCountLimits() throws {
        let p = try Project(config: Self.config(memory: "64MB"), tasks: [
            "big.lua": Self.task(#"store.set("k", 1); return ("x"):rep(1100000)"#),
            "fan.lua": Self.task(#"for i = 1, 100001 do queue.push("child", { i = i }) end"#, ttl: "120s"),
            "child.lua": Self.task("return 1"),
        ])
        let big = try enqueue(p, "big")
        let fan = try enqueue(p, "fan")
        let r = try p.run(["run", "--limit", "2"], timeout: 60)
        #expect(r.code == 0, "\(r.stderr)")
        let bigError = try runs(p, id: big).first?["error"]?.stringValue ?? ""
        #expect(bigError.contains("the handler returned 1100002 bytes of JSON, more than the 1 MB a result may hold"), "\(bigError)")
        let fanError = try runs(p, id: fan).first?["error"]?.stringValue ?? ""
        #expect(fanError.contains("queue.push: one attempt may push at most 100000 jobs"), "\(fanError)")
        #expect(p.sqlInt("SELECT count(*) FROM kv WHERE task IN ('caught', 'pushes', 'big', 'fan')") == 0)
        #expect(p.sqlInt("SELECT count(*) FROM jobs WHERE task = 'child'") == 0)
    }

    /// `crescent enqueue --args` over 64 KB is refused with the limit named; nothing is stored.
    @Test func enqueueRefusesArgsOverTheLimit() throws {
        let p = try Project(config: Self.config(memory: "64MB"), tasks: ["t.lua": Self.task("return 1")])
        let blob = String(repeating: "x", count: 100_000)
        let e = try p.run(["enqueue", "t", "--args", #"{"blob": "\#(blob)"}"#])
        #expect(e.code != 0)
        #expect(e.stderr.contains("args are 100011 bytes of JSON, more than the 64 KB a job's args may hold"), "\(e.stderr)")
        #expect(p.sqlInt("SELECT count(*) FROM jobs") == 0)
        let fits = String(repeating: "x", count: 60_000)
        #expect(try p.run(["enqueue", "t", "--args", #"{"blob": "\#(fits)"}"#]).code == 0)
    }
}
