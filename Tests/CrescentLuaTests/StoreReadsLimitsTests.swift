import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// What an attempt's store reads record, `store.incr`, and the size limits of a job's data.
@Suite struct StoreReadsTests {
    @Test func readsOfCommittedValuesAreRecordedOnceAndOwnWritesAreNot() throws {
        let fx = try Fixture(["s.lua": task("""
            local a = store.get("cursor")
            local a2 = store.get("cursor")
            local missing = store.get("missing")
            store.set("mine", 1)
            local mine = store.get("mine")
            store.delete("gone")
            local gone = store.get("gone")
            return { a = a, missing = missing == nil, mine = mine, gone = gone == nil }
            """)])
        let host = TestHost()
        host.store["s/cursor"] = .object(["page": .int(1)])
        host.store["s/gone"] = .int(3)
        let (worker, _) = try fx.worker(host: host)
        defer { worker.shutdown() }
        let r = try #require(run(worker, makeJob(task: "s")))
        let v = try #require(succeeded(r))
        #expect(v["mine"] == .int(1))
        #expect(r.storeReads == [StoreRead(task: "s", key: "cursor", value: #"{"page":1}"#),
                                 StoreRead(task: "s", key: "missing", value: nil)])
    }

    @Test func incrAddsToWhatTheAttemptSeesAndRecordsNoRead() throws {
        let fx = try Fixture(["s.lua": task("""
            local a = store.incr("hits")
            local b = store.incr("hits", 4)
            local c = store.incr("ratio", 0.5)
            store.set("own", 10)
            local d = store.incr("own", -3)
            local own = store.get("own")
            local ok, e = pcall(store.incr, "text")
            local ok2, e2 = pcall(store.incr, "hits", "x")
            return { a = a, b = b, c = c, d = d, own = own, e = e, e2 = e2 }
            """)])
        let host = TestHost()
        host.store["s/hits"] = .int(10)
        host.store["s/text"] = .string("abc")
        let (worker, _) = try fx.worker(host: host)
        defer { worker.shutdown() }
        let r = try #require(run(worker, makeJob(task: "s")))
        let v = try #require(succeeded(r))
        #expect(v["a"] == .int(11))
        #expect(v["b"] == .int(15))
        #expect(v["c"] == .double(0.5))
        #expect(v["d"] == .int(7))
        #expect(v["own"] == .int(7))
        #expect(v["e"]?.stringValue?.contains("store.incr: \"text\" holds a string, not a number") == true)
        #expect(v["e2"]?.stringValue?.contains("store.incr: the increment must be a number") == true)
        #expect(r.storeReads.isEmpty)
        #expect(r.storeWrites == [
            StoreWrite(task: "s", key: "hits", value: "1", increment: true),
            StoreWrite(task: "s", key: "hits", value: "4", increment: true),
            StoreWrite(task: "s", key: "ratio", value: "0.5", increment: true),
            StoreWrite(task: "s", key: "own", value: "10"),
            StoreWrite(task: "s", key: "own", value: "-3", increment: true),
        ])
    }
}

@Suite struct SizeLimitTests {
    @Test func aStoreValueOverTheLimitIsRefused() throws {
        let fx = try Fixture(["s.lua": task("""
            store.set("k", ("x"):rep(\(SizeLimits.storeValue)))
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let r = try #require(run(worker, makeJob(task: "s")))
        #expect(failure(r)?.contains("store.set: the value of \"k\" is \(SizeLimits.storeValue + 2) bytes of JSON, more than the 1 MB a store value may hold") == true)
        #expect(r.storeWrites.isEmpty)
    }

    @Test func argsOverTheLimitAndTooManyPushesAreRefused() throws {
        let fx = try Fixture([
            "big.lua": task("""
                queue.push("child", { blob = ("x"):rep(\(SizeLimits.args)) })
                """),
            "many.lua": task("""
                for i = 1, \(SizeLimits.pushesPerAttempt) do queue.push("child", { i = i }) end
                local ok, e = pcall(queue.push, "child", { i = 0 })
                return e
                """),
            "child.lua": task("return 1"),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let big = try #require(run(worker, makeJob(task: "big")))
        #expect(failure(big)?.contains("more than the 64 KB a job's args may hold") == true)
        let many = try #require(run(worker, makeJob(task: "many")))
        #expect(succeeded(many)?.stringValue?.contains("queue.push: one attempt may push at most 100000 jobs") == true)
        #expect(many.pushes.count == SizeLimits.pushesPerAttempt)
    }

    @Test func aResultOverTheLimitFailsTheAttempt() throws {
        let fx = try Fixture(["s.lua": task("""
            store.set("k", 1)
            return ("x"):rep(\(SizeLimits.result))
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let r = try #require(run(worker, makeJob(task: "s")))
        #expect(failure(r)?.contains("more than the 1 MB a result may hold") == true)
        #expect(r.storeWrites.isEmpty)
    }

    /// Pending store writes and pushes count against the VM's memory cap: past it the call
    /// is refused and the attempt ends `memory limit exceeded`, even when the handler
    /// catches the error.
    @Test func pendingWritesCountAgainstTheMemoryCap() throws {
        let fx = try Fixture([
            "s.lua": task("""
                for i = 1, 40 do store.set("k" .. i, ("x"):rep(900000)) end
                """),
            "caught.lua": task("""
                local errors = {}
                for i = 1, 40 do
                  local ok, e = pcall(store.set, "k" .. i, ("x"):rep(900000))
                  if not ok then errors[#errors + 1] = e end
                end
                return errors[1]
                """),
            "pushes.lua": task("""
                for i = 1, 400 do queue.push("s", { blob = ("x"):rep(60000) }) end
                """),
        ])
        let (worker, _) = try fx.worker(memory: 16 << 20)
        defer { worker.shutdown() }
        for name in ["s", "caught", "pushes"] {
            let r = try #require(run(worker, makeJob(task: name)))
            #expect(r.outcome == .aborted(reason: "memory limit exceeded"), "\(name): \(r.outcome)")
            #expect(r.storeWrites.isEmpty && r.pushes.isEmpty)
        }
    }
}
