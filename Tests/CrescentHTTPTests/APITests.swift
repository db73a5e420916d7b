import CrescentCore
import CrescentStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
@testable import CrescentHTTP

@Suite("HTTP API")
struct APITests {
    @Test("POST /api/jobs enqueues: 201 {id, duplicate}, the job is stored and the producer is woken")
    func enqueue() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders,
                                             body: body(#"{"task": "mail/welcome", "args": {"id": 7}}"#))
            #expect(r.status == .created)
            #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
            let id = try #require(r.json?["id"]?.intValue)
            #expect(r.json?["duplicate"] == .bool(false))
            let job = try #require(try f.store.jobGet(id: id))
            #expect(job.task == "mail/welcome")
            #expect(job.state == .queued)
            #expect(job.args == #"{"id":7}"#)
            #expect(job.maxAttempts == 3)
        }
        #expect(f.enqueuedCalls.value == 1)
    }

    @Test("POST /api/jobs applies queue, priority, delay and at; unique duplicates answer duplicate: true")
    func enqueueOptions() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let r1 = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders,
                                              body: body(#"{"task": "mail/welcome", "queue": "critical", "priority": 9, "delay": "1h"}"#))
            #expect(r1.status == .created)
            let id1 = try #require(r1.json?["id"]?.intValue)
            let job1 = try #require(try f.store.jobGet(id: id1))
            #expect(job1.queue == "critical")
            #expect(job1.priority == 9)
            #expect(job1.state == .scheduled)
            #expect(job1.runAt.timeIntervalSinceNow > 3500)

            let r2 = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders,
                                              body: body(#"{"task": "mail/welcome", "at": "2030-01-02T03:04:05Z"}"#))
            let id2 = try #require(r2.json?["id"]?.intValue)
            let job2 = try #require(try f.store.jobGet(id: id2))
            #expect(TimeText.format(job2.runAt) == "2030-01-02T03:04:05.000Z")

            let first = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders,
                                                 body: body(#"{"task": "sync", "args": {"account": 1}}"#))
            let again = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders,
                                                 body: body(#"{"task": "sync", "args": {"account": 1}}"#))
            #expect(first.status == .created)
            #expect(again.status == .created)
            #expect(again.json?["duplicate"] == .bool(true))
            #expect(again.json?["id"] == first.json?["id"])
        }
    }

    @Test("POST /api/jobs refuses bad input with 400 {error} and changes nothing", arguments: [
        "{not json",
        "[1, 2]",
        "",
        #"{"args": {}}"#,
        #"{"task": 5}"#,
        #"{"task": "mail/welcome", "args": 5}"#,
        #"{"task": "mail/welcome", "args": "x"}"#,
        #"{"task": "mail/welcome", "priority": "high"}"#,
        #"{"task": "mail/welcome", "priority": 1.5}"#,
        #"{"task": "mail/welcome", "queue": 3}"#,
        #"{"task": "mail/welcome", "queue": " "}"#,
        #"{"task": "mail/welcome", "delay": "soon"}"#,
        #"{"task": "mail/welcome", "delay": -5}"#,
        #"{"task": "mail/welcome", "at": "tomorrow"}"#,
        #"{"task": "mail/welcome", "delay": "5m", "at": "2030-01-01T00:00:00Z"}"#,
        #"{"task": "mail/welcome", "colour": "red"}"#,
    ])
    func enqueueBadInput(payload: String) async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders, body: body(payload))
            #expect(r.status == .badRequest)
            let message = try #require(r.json?["error"]?.stringValue)
            #expect(!message.isEmpty)
        }
        #expect(try f.store.jobCount(JobListParams()) == 0)
        #expect(f.enqueuedCalls.value == 0)
    }

    @Test("A POST a browser sends from another site is refused with 403 (Basic credentials ride along cross-site)")
    func crossSitePost() async throws {
        let f = try HTTPFixture()
        let dead = try f.deadJob()
        try await f.test { client in
            var foreign = jsonHeaders
            foreign[.origin] = "https://evil.example"
            let r = try await client.execute(uri: "/api/jobs", method: .post, headers: foreign, body: body(#"{"task": "mail/welcome"}"#))
            #expect(r.status == .forbidden)
            #expect(r.json?["error"]?.stringValue?.contains("cross-site") == true)
            var fetchSite = jsonHeaders
            fetchSite[HTTPField.Name("Sec-Fetch-Site")!] = "cross-site"
            let retry = try await client.execute(uri: "/api/jobs/\(dead)/retry", method: .post, headers: fetchSite)
            #expect(retry.status == .forbidden)
            // An Origin naming this host (the test client's authority is "localhost") passes.
            var same = jsonHeaders
            same[.origin] = "http://localhost"
            same[HTTPField.Name("Sec-Fetch-Site")!] = "same-origin"
            let ok = try await client.execute(uri: "/api/jobs", method: .post, headers: same, body: body(#"{"task": "mail/welcome"}"#))
            #expect(ok.status == .created)
            var otherPort = jsonHeaders
            otherPort[.origin] = "http://localhost:9999"
            let refused = try await client.execute(uri: "/api/jobs", method: .post, headers: otherPort, body: body(#"{"task": "mail/welcome"}"#))
            #expect(refused.status == .forbidden)
        }
        #expect(try f.store.jobGet(id: dead)?.state == .dead)
        #expect(try f.store.jobCount(JobListParams(state: .queued)) == 1)
    }

    @Test("POST /api/jobs refuses args over 64 KB with 400 naming the limit")
    func argsOverTheLimit() async throws {
        let f = try HTTPFixture()
        let big = #"{"task": "mail/welcome", "args": {"blob": ""# + String(repeating: "x", count: SizeLimits.args) + "\"}}"
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders, body: body(big))
            #expect(r.status == .badRequest)
            #expect(r.json?["error"]?.stringValue?.contains("more than the 64 KB a job's args may hold") == true)
        }
        #expect(try f.store.jobCount(JobListParams()) == 0)
    }

    @Test("POST /api/jobs for an unknown task is 404")
    func enqueueUnknownTask() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders, body: body(#"{"task": "nope"}"#))
            #expect(r.status == .notFound)
            #expect(r.json?["error"]?.stringValue?.contains("unknown task \"nope\"") == true)
        }
        #expect(try f.store.jobCount(JobListParams()) == 0)
    }

    @Test("A request body over 1 MiB is refused with 413")
    func bodyTooLarge() async throws {
        let f = try HTTPFixture()
        let big = #"{"task": "mail/welcome", "args": {"blob": ""# + String(repeating: "x", count: HTTPServer.maxBodySize + 10) + "\"}}"
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders, body: body(big))
            #expect(r.status == .contentTooLarge)
            #expect(r.json?["error"] != nil)
            // Just under the limit still works.
            let fits = #"{"task": "mail/welcome", "args": {"blob": ""# + String(repeating: "x", count: 1000) + "\"}}"
            let ok = try await client.execute(uri: "/api/jobs", method: .post, headers: jsonHeaders, body: body(fits))
            #expect(ok.status == .created)
        }
        #expect(try f.store.jobCount(JobListParams()) == 1)
    }

    @Test("GET /api/jobs lists newest first with state, task, queue and limit filters")
    func list() async throws {
        let f = try HTTPFixture()
        let a = try f.insert("mail/welcome")
        let b = try f.insert("sync", queue: "critical", args: #"{"n":1}"#)
        let c = try f.insert("mail/welcome", runAt: Date().addingTimeInterval(600))
        try await f.test { client in
            let all = try await client.execute(uri: "/api/jobs", method: .get)
            #expect(all.status == .ok)
            guard case .array(let items)? = all.json else { Issue.record("not an array: \(all.text)"); return }
            #expect(items.compactMap { $0["id"]?.intValue } == [c, b, a])
            let first = try #require(items.first)
            for key in ["id", "task", "queue", "priority", "state", "args", "attempt", "max_attempts", "result", "error",
                        "unique_key", "scheduled_for", "run_at", "created_at", "finished_at"] {
                #expect(first[key] != nil, "job JSON lacks \(key)")
            }

            func ids(_ uri: String) async throws -> [Int64] {
                let r = try await client.execute(uri: uri, method: .get)
                #expect(r.status == .ok, "\(uri): \(r.text)")
                guard case .array(let items)? = r.json else { return [] }
                return items.compactMap { $0["id"]?.intValue }
            }
            #expect(try await ids("/api/jobs?state=scheduled") == [c])
            #expect(try await ids("/api/jobs?task=mail%2Fwelcome") == [c, a])
            #expect(try await ids("/api/jobs?queue=critical") == [b])
            #expect(try await ids("/api/jobs?limit=1") == [c])
            #expect(try await ids("/api/jobs?state=queued&queue=default") == [a])

            for bad in ["/api/jobs?state=sleeping", "/api/jobs?limit=0", "/api/jobs?limit=abc", "/api/jobs?limit=100000", "/api/jobs?limit=", "/api/jobs?offset="] {
                let r = try await client.execute(uri: bad, method: .get)
                #expect(r.status == .badRequest, "\(bad)")
                #expect(r.json?["error"] != nil)
            }
        }
    }

    @Test("GET /api/jobs/{id} answers the job with its runs; 404 unknown; 400 not a number")
    func getJob() async throws {
        let f = try HTTPFixture()
        let id = try f.deadJob()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs/\(id)", method: .get)
            #expect(r.status == .ok)
            let json = try #require(r.json)
            #expect(json["id"]?.intValue == id)
            #expect(json["state"] == .string("dead"))
            #expect(json["error"] == .string("northstar answered 500"))
            guard case .array(let runs)? = json["runs"] else { Issue.record("no runs: \(r.text)"); return }
            #expect(runs.count == 1)
            #expect(runs.first?["outcome"] == .string("failed"))
            #expect(runs.first?["attempt"]?.intValue == 1)
            #expect(runs.first?["worker"] == .string("test-worker"))
            #expect(runs.first?["error"] == .string("northstar answered 500"))
            #expect(runs.first?["started_at"]?.stringValue != nil)

            let missing = try await client.execute(uri: "/api/jobs/999999", method: .get)
            #expect(missing.status == .notFound)
            #expect(missing.json?["error"]?.stringValue == "job 999999 does not exist")
            let bad = try await client.execute(uri: "/api/jobs/abc", method: .get)
            #expect(bad.status == .badRequest)
        }
    }

    @Test("POST /api/jobs/{id}/retry: dead → queued (200); 409 for a job that is not dead; 404 unknown")
    func retry() async throws {
        let f = try HTTPFixture()
        let dead = try f.deadJob()
        let queued = try f.insert()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs/\(dead)/retry", method: .post)
            #expect(r.status == .ok)
            #expect(r.json?["state"] == .string("queued"))
            #expect(r.json?["attempt"]?.intValue == 0)
            #expect(try f.store.jobGet(id: dead)?.state == .queued)

            let conflict = try await client.execute(uri: "/api/jobs/\(queued)/retry", method: .post)
            #expect(conflict.status == .conflict)
            #expect(conflict.json?["error"]?.stringValue?.contains("is queued") == true)

            let missing = try await client.execute(uri: "/api/jobs/424242/retry", method: .post)
            #expect(missing.status == .notFound)
        }
        #expect(f.enqueuedCalls.value == 1)
    }

    @Test("POST /api/jobs/{id}/cancel: queued → cancelled (200), running → abort requested (202), finished → 409, unknown → 404")
    func cancel() async throws {
        let f = try HTTPFixture()
        let done = try f.succeededJob()
        let running = try f.insert("sync", queue: "critical")
        _ = try f.claim(queue: "critical")
        let queued = try f.insert()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/jobs/\(queued)/cancel", method: .post)
            #expect(r.status == .ok)
            #expect(r.json?["state"] == .string("cancelled"))

            let again = try await client.execute(uri: "/api/jobs/\(queued)/cancel", method: .post)
            #expect(again.status == .conflict)

            let abort = try await client.execute(uri: "/api/jobs/\(running)/cancel", method: .post)
            #expect(abort.status == .accepted)
            #expect(abort.json?["state"] == .string("running"))
            #expect(try f.store.jobCancelRequested(worker: "test-worker") == [running])

            let finished = try await client.execute(uri: "/api/jobs/\(done)/cancel", method: .post)
            #expect(finished.status == .conflict)
            #expect(try f.store.jobGet(id: done)?.state == .succeeded)

            let missing = try await client.execute(uri: "/api/jobs/31337/cancel", method: .post)
            #expect(missing.status == .notFound)
        }
    }

    @Test("GET /api/tasks and /api/stats answer the tasks --json and status --json documents")
    func tasksAndStats() async throws {
        let f = try HTTPFixture()
        try f.deadJob()
        try f.insert()
        try await f.test { client in
            let tasks = try await client.execute(uri: "/api/tasks", method: .get)
            #expect(tasks.status == .ok)
            guard case .array(let list)? = tasks.json?["tasks"] else { Issue.record("no tasks: \(tasks.text)"); return }
            #expect(list.compactMap { $0["name"]?.stringValue } == ["mail/welcome", "report/daily", "sync"])
            let daily = list.first { $0["name"] == .string("report/daily") }
            #expect(daily?["schedule"] == .string("0 8 * * *"))
            #expect(daily?["next_fire"]?.stringValue?.hasSuffix("T08:00:00.000Z") == true)
            guard case .array(let errors)? = tasks.json?["errors"] else { Issue.record("no errors"); return }
            #expect(errors.first?["file"] == .string("tasks/broken.lua"))
            #expect(errors.first?["line"]?.intValue == 3)

            let stats = try await client.execute(uri: "/api/stats", method: .get)
            #expect(stats.status == .ok)
            #expect(stats.json?["queues"]?["default"]?["queued"]?.intValue == 1)
            #expect(stats.json?["queues"]?["default"]?["dead"]?.intValue == 1)
            #expect(stats.json?["finished"]?["last_hour"]?["failed"]?.intValue == 1)
            #expect(stats.json?["store"] == .string("sqlite " + f.dir.appendingPathComponent("crescent.db").path))
        }
    }

    @Test("Unknown routes answer 404 with a JSON error")
    func unknownRoute() async throws {
        let f = try HTTPFixture()
        try await f.test { client in
            let r = try await client.execute(uri: "/api/nothing-here", method: .get)
            #expect(r.status == .notFound)
            #expect(r.json?["error"] != nil)
        }
    }
}
