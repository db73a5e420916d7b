import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

@Suite struct WorkerTests {
    @Test func outcomes() throws {
        let fx = try Fixture([
            "ret.lua": task("return { ok = true, n = 3, list = {1, 2}, empty = {} }"),
            "none.lua": task(""),
            "fail.lua": task("local x = 1\nerror(\"boom\")"),
            "snooze.lua": task("return job:snooze(\"30s\")"),
            "discard.lua": task("return job:discard(\"bad input\")"),
            "fn.lua": task("return function() end"),
            "errtable.lua": task("error({ code = 7 })"),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        #expect(run(worker, makeJob(task: "ret"))?.outcome == .succeeded(result: #"{"empty":{},"list":[1,2],"n":3,"ok":true}"#))
        #expect(run(worker, makeJob(task: "none"))?.outcome == .succeeded(result: "null"))
        #expect(run(worker, makeJob(task: "snooze"))?.outcome == .snoozed(seconds: 30))
        #expect(run(worker, makeJob(task: "discard"))?.outcome == .discarded(reason: "bad input"))
        guard case .failed(let message, let traceback)? = run(worker, makeJob(task: "fail"))?.outcome else {
            Issue.record("expected a failure"); return
        }
        #expect(message == "tasks/fail.lua:5: boom")
        #expect(traceback?.contains("stack traceback:") == true)
        #expect(traceback?.contains("tasks/fail.lua:5") == true)
        guard case .failed(let fnMessage, _)? = run(worker, makeJob(task: "fn"))?.outcome else {
            Issue.record("expected a failure"); return
        }
        #expect(fnMessage.contains("the handler returned a value JSON cannot hold: cannot encode a function value"))
        guard case .failed(let tableMessage, _)? = run(worker, makeJob(task: "errtable"))?.outcome else {
            Issue.record("expected a failure"); return
        }
        #expect(tableMessage == #"error object: {"code":7}"#)
        #expect(worker.inFlight == 0)
    }

    @Test func jobTable() throws {
        let fx = try Fixture(["t.lua": task("""
            return { id = job.id, task = job.task, queue = job.queue, attempt = job.attempt,
                     args = job.args, name = job.args.name, scheduled_for = job.scheduled_for }
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let at = Date(timeIntervalSince1970: 1_795_420_800)
        let r = run(worker, makeJob(42, task: "t", args: #"{"name":"ada","n":[1,null]}"#, attempt: 3, queue: "q", scheduledFor: at))
        #expect(r?.jobID == 42)
        #expect(r?.attempt == 3)
        guard case .succeeded(let json)? = r?.outcome else { Issue.record("\(String(describing: r))"); return }
        let v = try JSONValue.decode(json)
        #expect(v["id"] == .int(42))
        #expect(v["task"] == .string("t"))
        #expect(v["queue"] == .string("q"))
        #expect(v["attempt"] == .int(3))
        #expect(v["name"] == .string("ada"))
        #expect(v["args"] == .object(["name": .string("ada"), "n": .array([.int(1), .null])]))
        #expect(v["scheduled_for"] == .string(TimeText.format(at)))
    }

    @Test func unknownTaskFails() throws {
        let fx = try Fixture(["a.lua": task("")])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        guard case .failed(let m, _)? = run(worker, makeJob(task: "nope"))?.outcome else { Issue.record("expected failure"); return }
        #expect(m.contains("task \"nope\" is not loaded"))
    }

    @Test(arguments: ["while true do end", "pcall(function() while true do end end)\nwhile true do pcall(function() end) end",
                      "while true do local ok = pcall(function() while true do end end) end"])
    func ttlAbortsPureLuaLoopWhileOthersRun(loop: String) throws {
        let fx = try Fixture([
            "spin.lua": task(loop),
            "nap.lua": task("sleep(\"100ms\")\nreturn \"rested\""),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let results = Results()
        worker.submit(ExecRequest(job: makeJob(1, task: "nap"), ttl: 30), completion: results.completion)
        worker.submit(ExecRequest(job: makeJob(2, task: "spin"), ttl: 0.3), completion: results.completion)
        #expect(results.wait(for: 2))
        #expect(results[2]?.outcome == .aborted(reason: "ttl exceeded"))
        #expect(results[1]?.outcome == .succeeded(result: "\"rested\""))
        // The VM goes on.
        #expect(run(worker, makeJob(3, task: "nap"))?.outcome == .succeeded(result: "\"rested\""))
    }

    @Test func ttlAbortsWaitingJob() throws {
        let fx = try Fixture(["long.lua": task("sleep(\"1h\")")])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        #expect(run(worker, makeJob(task: "long"), ttl: 0.2)?.outcome == .aborted(reason: "ttl exceeded"))
        #expect(worker.inFlight == 0)
    }

    @Test func memoryCap() throws {
        let fx = try Fixture([
            "hog.lua": task("local t = {} for i = 1, 1e8 do t[i] = i end"),
            "hogpcall.lua": task("local ok, e = pcall(function() local t = {} for i = 1, 1e8 do t[i] = i end end)\nerror(e)"),
            "ok.lua": task("local t = {} for i = 1, 1000 do t[i] = i end return #t"),
        ])
        let (worker, _) = try fx.worker(memory: 16 << 20)
        defer { worker.shutdown() }
        #expect(run(worker, makeJob(1, task: "hog"))?.outcome == .aborted(reason: "memory limit exceeded"))
        #expect(run(worker, makeJob(2, task: "ok"))?.outcome == .succeeded(result: "1000"))
        #expect(run(worker, makeJob(3, task: "hogpcall"))?.outcome == .aborted(reason: "memory limit exceeded"))
        #expect(run(worker, makeJob(4, task: "ok"))?.outcome == .succeeded(result: "1000"))
    }

    @Test func vmIsRebuiltWhenMemoryStaysHeld() throws {
        let fx = try Fixture([
            "hoard.lua": "local keep = {}\nreturn { handler = function(job)\n if job.args.count then return #keep end\n for i = 1, 1e8 do keep[#keep + 1] = i end\nend }",
        ])
        let (worker, _) = try fx.worker(memory: 16 << 20)
        defer { worker.shutdown() }
        #expect(run(worker, makeJob(1, task: "hoard"))?.outcome == .aborted(reason: "memory limit exceeded"))
        // The file-level table still held the memory: the worker started a fresh VM with the tasks.
        #expect(run(worker, makeJob(2, task: "hoard", args: #"{"count":true}"#))?.outcome == .succeeded(result: "0"))
    }

    @Test func cancelWaitingAndSpinningJobs() throws {
        let fx = try Fixture(["long.lua": task("sleep(\"1h\")"), "spin.lua": task("log.info('spinning')\nwhile true do end")])
        let logs = LogCapture()
        let (worker, _) = try fx.worker(logs: logs)
        defer { worker.shutdown() }
        let results = Results()
        worker.submit(ExecRequest(job: makeJob(1, task: "long"), ttl: 60), completion: results.completion)
        worker.submit(ExecRequest(job: makeJob(2, task: "spin"), ttl: 60), completion: results.completion)
        // Wait until the spinning job holds the VM, then cancel both from this thread.
        let deadline = Date().addingTimeInterval(20)
        while !logs.entries.contains(where: { $0.message == "spinning" }) && Date() < deadline { usleep(1000) }
        worker.cancel(jobID: 2)
        worker.cancel(jobID: 1)
        #expect(results.wait(for: 2))
        #expect(results[1]?.outcome == .aborted(reason: "cancelled"))
        #expect(results[2]?.outcome == .aborted(reason: "cancelled"))
    }

    @Test func manySleepingJobsOnOneVM() throws {
        let fx = try Fixture(["nap.lua": task("sleep(\"300ms\")\nreturn job.id")])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let results = Results()
        let started = Date()
        for i in 1...200 {
            worker.submit(ExecRequest(job: makeJob(Int64(i), task: "nap"), ttl: 60), completion: results.completion)
        }
        #expect(results.wait(for: 200, timeout: 30))
        #expect(Date().timeIntervalSince(started) < 10)
        #expect((1...200).allSatisfy { results[Int64($0)]?.outcome == .succeeded(result: "\($0)") })
        // Finished attempts leave no ttl or sleep timers behind.
        #expect(worker.pendingTimers == 0)
    }

    @Test func timerHeapOrdersAndRemoves() {
        var heap = TimerHeap()
        var rng = SystemRandomNumberGenerator()
        var live: [UInt64: Double] = [:]
        for i in 0..<500 {
            let t = Double.random(in: 0..<1000, using: &rng)
            live[heap.push(time: t, serial: UInt64(i), token: 1)] = t
        }
        for id in Array(live.keys).shuffled().prefix(200) {
            heap.remove(id: id)
            live.removeValue(forKey: id)
        }
        var popped: [Double] = []
        while let timer = heap.popDue(now: 2000) { popped.append(timer.time) }
        #expect(popped == live.values.sorted())
        #expect(heap.count == 0)
    }

    @Test func installKeepsPreviousVersionOfABrokenFile() throws {
        let fx = try Fixture(["v.lua": task("return 1"), "gone.lua": task("return 'g'")])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        #expect(run(worker, makeJob(task: "v"))?.outcome == .succeeded(result: "1"))
        try fx.write("v.lua", "return {")
        try FileManager.default.removeItem(at: fx.tasksDir.appendingPathComponent("gone.lua"))
        let errors = worker.install(fx.snapshot(version: 2))
        #expect(errors.count == 1)
        #expect(errors.first?.file == "tasks/v.lua")
        #expect(run(worker, makeJob(task: "v"))?.outcome == .succeeded(result: "1"))
        guard case .failed? = run(worker, makeJob(task: "gone"))?.outcome else { Issue.record("gone should be unloaded"); return }
        try fx.write("v.lua", task("return 2"))
        #expect(worker.install(fx.snapshot(version: 3)).isEmpty)
        #expect(run(worker, makeJob(task: "v"))?.outcome == .succeeded(result: "2"))
    }

    @Test func runningAttemptFinishesOnItsVersion() throws {
        let fx = try Fixture(["v.lua": task("sleep(\"200ms\")\nreturn 1")])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let results = Results()
        worker.submit(ExecRequest(job: makeJob(1, task: "v"), ttl: 30), completion: results.completion)
        try fx.write("v.lua", task("return 2"))
        #expect(worker.install(fx.snapshot(version: 2)).isEmpty)
        worker.submit(ExecRequest(job: makeJob(2, task: "v"), ttl: 30), completion: results.completion)
        #expect(results.wait(for: 2))
        #expect(results[1]?.outcome == .succeeded(result: "1"))
        #expect(results[2]?.outcome == .succeeded(result: "2"))
    }

    @Test func uniqueKeyFromAnotherThread() throws {
        let fx = try Fixture([
            "byfn.lua": task("", settings: "unique = { by = function(args) return args.user end },"),
            "byargs.lua": task("", settings: "unique = \"args\","),
            "plain.lua": task(""),
        ])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        #expect(try worker.uniqueKey(task: "byfn", args: #"{"user":7}"#) == "byfn:7")
        #expect(try worker.uniqueKey(task: "byargs", args: #"{"a":1}"#) == #"byargs:{"a":1}"#)
        #expect(try worker.uniqueKey(task: "plain", args: "{}") == nil)
        #expect(throws: (any Error).self) { try worker.uniqueKey(task: "missing", args: "{}") }
    }

    @Test func shutdownAbortsRunningAttempts() throws {
        let fx = try Fixture(["long.lua": task("sleep(\"1h\")")])
        let (worker, _) = try fx.worker()
        let results = Results()
        worker.submit(ExecRequest(job: makeJob(1, task: "long"), ttl: 60), completion: results.completion)
        worker.shutdown()
        #expect(results.wait(for: 1))
        #expect(results[1]?.outcome == .aborted(reason: "worker shut down"))
        worker.submit(ExecRequest(job: makeJob(2, task: "long"), ttl: 60), completion: results.completion)
        #expect(results[2]?.outcome == .aborted(reason: "worker shut down"))
    }
}
