import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Hummingbird

/// The JSON API (SPEC §7).
///
/// | route | answers |
/// | --- | --- |
/// | `POST /api/jobs` | 201 `{id, duplicate}`; 400 bad input; 404 unknown task |
/// | `GET /api/jobs?state=&task=&queue=&q=&limit=&offset=` | 200 array of jobs, newest first; 400 bad filter |
/// | `GET /api/jobs/{id}` | 200 the job with `runs`; 404 |
/// | `POST /api/jobs/{id}/retry` | 200 the job (now `queued`); 404; 409 when not dead, cancelled or expired |
/// | `POST /api/jobs/{id}/cancel` | 200 the job (`cancelled`); 202 when it is running and its abort was requested; 404; 409 when already finished |
/// | `GET /api/tasks`, `GET /api/stats` | as `tasks --json`, `status --json` |
extension HTTPServer {
    /// Most jobs one `GET /api/jobs` returns.
    static let maxListLimit = 1000

    func addAPIRoutes(to router: Router<BasicRequestContext>) {
        router.post("/api/jobs") { request, _ in
            let body = try await RequestInput.body(request)
            let enqueue = try Self.parseEnqueue(body, now: Date())
            let enqueuer = self.enqueuer
            let result = try await self.io { try enqueuer.enqueue(enqueue) }
            if !result.duplicate { self.onEnqueued() }
            return Response.json(.object(["id": .int(result.id), "duplicate": .bool(result.duplicate)]), status: .created)
        }

        router.get("/api/jobs") { request, _ in
            let params = try Self.parseListQuery(RequestInput.query(request))
            let store = self.store
            let jobs = try await self.io { try store.jobList(params) }
            return Response.json(.array(jobs.map { $0.json() }))
        }

        router.get("/api/jobs/{id}") { _, context in
            let id = try Self.jobID(context)
            let store = self.store
            let (job, runs) = try await self.io { () throws -> (Job?, [JobRun]) in
                guard let job = try store.jobGet(id: id) else { return (nil, []) }
                return (job, try store.jobRuns(id: id))
            }
            guard let job else { throw HTTPFailure.notFound("job \(id) does not exist") }
            return Response.json(Self.jobWithRuns(job, runs))
        }

        router.post("/api/jobs/{id}/retry") { request, context in
            let id = try Self.jobID(context)
            _ = try await RequestInput.body(request)
            let job = try await self.retry(id)
            return Response.json(job.json())
        }

        router.post("/api/jobs/{id}/cancel") { request, context in
            let id = try Self.jobID(context)
            _ = try await RequestInput.body(request)
            let job = try await self.cancel(id)
            return Response.json(job.json(), status: job.state == .running ? .accepted : .ok)
        }

        router.get("/api/tasks") { _, _ in
            let (registry, store) = (self.registry, self.store)
            return Response.json(try await self.io { Reports.tasks(registry, store: store) })
        }

        router.get("/api/stats") { _, _ in
            let (registry, store) = (self.registry, self.store)
            return Response.json(try await self.readIO { try Reports.status(registry, store: store, lease: self.config.lease) })
        }
    }

    // MARK: actions shared with the dashboard

    /// Retries a dead, cancelled or expired job; 404 unknown, 409 in any other state.
    func retry(_ id: Int64) async throws -> Job {
        let store = self.store
        let (before, moved, after) = try await io { () throws -> (Job?, Bool, Job?) in
            guard let before = try store.jobGet(id: id) else { return (nil, false, nil) }
            let moved = try store.jobRetry(ids: [id]).contains(id)
            return (before, moved, try store.jobGet(id: id))
        }
        guard let before else { throw HTTPFailure.notFound("job \(id) does not exist") }
        guard moved, let after else {
            if [.dead, .cancelled, .expired].contains(before.state) {
                throw HTTPFailure.conflict("job \(id) cannot be retried now: another active job holds its unique key")
            }
            throw HTTPFailure.conflict("job \(id) is \(before.state.rawValue); only dead, cancelled or expired jobs can be retried")
        }
        onEnqueued()
        return after
    }

    /// Cancels a scheduled, queued or retrying job, or requests the abort of a running one;
    /// 404 unknown, 409 when it already finished.
    func cancel(_ id: Int64) async throws -> Job {
        let store = self.store
        let (before, done, after) = try await io { () throws -> (Job?, Bool, Job?) in
            guard let before = try store.jobGet(id: id) else { return (nil, false, nil) }
            let done = try store.jobCancel(ids: [id]).contains(id)
            return (before, done, try store.jobGet(id: id))
        }
        guard let before else { throw HTTPFailure.notFound("job \(id) does not exist") }
        guard done, let after else {
            throw HTTPFailure.conflict("job \(id) is \(before.state.rawValue); only scheduled, queued, retrying or running jobs can be cancelled")
        }
        return after
    }

    // MARK: parsing

    static func jobID(_ context: BasicRequestContext) throws -> Int64 {
        let text = context.parameters.get("id") ?? ""
        guard let id = Int64(text), id > 0 else { throw HTTPFailure.badRequest("job id \"\(text)\" is not a positive integer") }
        return id
    }

    static func jobWithRuns(_ job: Job, _ runs: [JobRun]) -> JSONValue {
        guard case .object(var fields) = job.json() else { return job.json() }
        fields["runs"] = .array(runs.map { $0.json() })
        return .object(fields)
    }

    /// `{task, args?, queue?, priority?, delay?, at?}`; unknown fields, wrong types and
    /// `delay` with `at` are refused.
    static func parseEnqueue(_ body: String, now: Date) throws -> Enqueuer.Request {
        guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw HTTPFailure.badRequest("request body must be a JSON object like {\"task\": \"name\", \"args\": {}}")
        }
        let value: JSONValue
        do {
            value = try JSONValue.decode(body)
        } catch {
            throw HTTPFailure.badRequest("request body is not valid JSON: \(error.message)")
        }
        guard case .object(let fields) = value else {
            throw HTTPFailure.badRequest("request body must be a JSON object like {\"task\": \"name\", \"args\": {}}")
        }
        let known: Set = ["task", "args", "queue", "priority", "delay", "at"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw HTTPFailure.badRequest("unknown field \"\(unknown)\" (expected task, args, queue, priority, delay, at)")
        }
        guard let task = fields["task"]?.stringValue, !task.isEmpty else {
            throw HTTPFailure.badRequest("field \"task\" is required and must be a non-empty string")
        }
        var request = Enqueuer.Request(task: task)
        switch fields["args"] {
        case nil, .null?: break
        case .object?, .array?: request.args = fields["args"]!.encoded()
        default: throw HTTPFailure.badRequest("field \"args\" must be a JSON object or array")
        }
        switch fields["queue"] {
        case nil, .null?: break
        case .string(let q)?:
            guard !q.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw HTTPFailure.badRequest("field \"queue\" cannot be empty or blank") }
            request.queue = q
        default: throw HTTPFailure.badRequest("field \"queue\" must be a string")
        }
        switch fields["priority"] {
        case nil, .null?: break
        case let p?:
            guard let n = p.intValue else { throw HTTPFailure.badRequest("field \"priority\" must be an integer") }
            do { request.priority = try InputRange.priority(n, "field \"priority\":") } catch { throw HTTPFailure.badRequest(error.message) }
        }
        let delay = fields["delay"].flatMap { $0 == .null ? nil : $0 }
        let at = fields["at"].flatMap { $0 == .null ? nil : $0 }
        if delay != nil && at != nil {
            throw HTTPFailure.badRequest("give either \"delay\" or \"at\", not both")
        }
        if let delay {
            let seconds: Double
            switch delay {
            case .string(let s):
                do { seconds = try DurationText.parse(s) } catch { throw HTTPFailure.badRequest("field \"delay\": \(error.message)") }
            case .int, .double:
                seconds = delay.doubleValue ?? -1
                guard seconds >= 0, seconds.isFinite else { throw HTTPFailure.badRequest("field \"delay\" must not be negative") }
            default: throw HTTPFailure.badRequest("field \"delay\" must be a duration like \"30s\" or a number of seconds")
            }
            do { request.runAt = try InputRange.time(after: seconds, from: now) } catch { throw HTTPFailure.badRequest("field \"delay\": \(error.message)") }
        }
        if let at {
            switch at {
            case .string(let s):
                do { request.runAt = try TimeText.parse(s) } catch { throw HTTPFailure.badRequest("field \"at\": \(error.message)") }
            case .int, .double:
                guard let epoch = at.doubleValue else { throw HTTPFailure.badRequest("field \"at\" must be a time") }
                do { request.runAt = try InputRange.time(epoch: epoch) } catch { throw HTTPFailure.badRequest("field \"at\": \(error.message)") }
            default: throw HTTPFailure.badRequest("field \"at\" must be an ISO 8601 time or epoch seconds")
            }
        }
        return request
    }

    /// `state`, `task`, `queue` (empty: any, as the dashboard's filter form sends them), `q`
    /// (text in args or error), `limit` (1…1000, default 50), `offset` (given empty: refused).
    static func parseListQuery(_ query: [String: String]) throws -> JobListParams {
        var params = JobListParams()
        if let s = query["state"], !s.isEmpty {
            guard let state = JobState(rawValue: s) else {
                throw HTTPFailure.badRequest("unknown state \"\(s)\" (expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            params.state = state
        }
        if let t = query["task"], !t.isEmpty { params.task = t }
        if let q = query["queue"], !q.isEmpty { params.queue = q }
        if let text = query["q"], !text.isEmpty { params.search = text }
        if let l = query["limit"] {
            guard let n = Int(l), (1...maxListLimit).contains(n) else {
                throw HTTPFailure.badRequest("limit must be an integer from 1 to \(maxListLimit)")
            }
            params.limit = n
        }
        if let o = query["offset"] {
            guard let n = Int(o), InputRange.offsets.contains(n) else {
                throw HTTPFailure.badRequest("offset must be an integer from 0 to \(InputRange.offsets.upperBound)")
            }
            params.offset = n
        }
        return params
    }
}
