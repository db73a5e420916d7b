import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard (SPEC §7): server-rendered pages that need no JavaScript; `/dashboard.js`
/// only refreshes them in place (DashboardScript.swift).
///
/// Pages: `/` overview, `/queues`, `/tasks`, `/jobs` (filters and pages), `/jobs/{id}`,
/// `/dead`, `/processes`. Buttons are POST forms to `/jobs/{id}/retry`,
/// `/jobs/{id}/cancel` and `/dead/retry-all`, which answer 303 back to the page. Each form
/// carries this process's random CSRF token; a POST without it, or sent from another site
/// (`Origin` not this host, or `Sec-Fetch-Site` other than same-origin), gets 403.
extension HTTPServer {
    static let pageSize = 50
    /// States in the order the dashboard shows them.
    static let stateOrder: [JobState] = [.queued, .running, .scheduled, .retrying, .succeeded, .dead, .cancelled, .expired]

    func addDashboardRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in try await self.overviewPage(request) }
        router.get("/queues") { request, _ in try await self.queuesPage(request) }
        router.get("/tasks") { request, _ in try await self.tasksPage(request) }
        router.get("/jobs") { request, _ in try await self.jobsPage(request, deadOnly: false) }
        router.get("/jobs/{id}") { request, context in try await self.jobPage(request, id: Self.jobID(context)) }
        router.get("/dead") { request, _ in try await self.jobsPage(request, deadOnly: true) }
        router.get("/processes") { request, _ in try await self.processesPage(request) }
        addDashboardScriptRoute(to: router)

        router.post("/jobs/{id}/retry") { request, context in
            let id = try Self.jobID(context)
            return try await self.formAction(request, fallback: "/jobs/\(id)") {
                _ = try await self.retry(id)
                return "retried:\(id)"
            }
        }
        router.post("/jobs/{id}/cancel") { request, context in
            let id = try Self.jobID(context)
            return try await self.formAction(request, fallback: "/jobs/\(id)") {
                let job = try await self.cancel(id)
                return job.state == .running ? "cancel-requested:\(id)" : "cancelled:\(id)"
            }
        }
        router.post("/tasks/run") { request, _ in try await self.runTaskNow(request) }
        router.post("/dead/retry-all") { request, _ in
            try await self.formAction(request, fallback: "/dead") {
                let store = self.store
                let n = try await self.io { try store.jobRetryAllDead() }
                if n > 0 { self.onEnqueued() }
                return "retried-all:\(n)"
            }
        }
    }

    // MARK: forms

    /// Checks the form carries this process's CSRF token (the cross-site headers were checked
    /// by `SameOriginMiddleware`), runs `action`, and redirects (303) to the form's `back` path
    /// (or `fallback`) with a short note of what happened.
    func formAction(_ request: Request, form given: [String: String]? = nil, fallback: String,
                    _ action: () async throws -> String) async throws -> Response {
        try await formAction(request, form: given, fallback: fallback, withBody: { _ in try await action() })
    }

    /// As `formAction`, handing `action` the form's raw body (read once; empty when the
    /// caller read the form itself and passes it as `given`).
    func formAction(_ request: Request, form given: [String: String]? = nil, fallback: String,
                    withBody action: (String) async throws -> String) async throws -> Response {
        let body = given == nil ? try await RequestInput.body(request) : ""
        let form = given ?? RequestInput.form(body)
        guard let token = form["csrf"], constantTimeEqual(Array(token.utf8), Array(csrfToken.utf8)) else {
            throw HTTPFailure.forbidden("this form has no valid CSRF token (was the page opened before the server restarted?); reload the page and try again")
        }
        let done = try await action(body)
        let back = Self.safeBack(form["back"]) ?? fallback
        return .redirect(to: back + (back.contains("?") ? "&" : "?") + "done=" + RequestInput.encode(done))
    }

    /// Refuses requests a browser marks as sent from another site.
    static func checkSameOrigin(_ request: Request) throws {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased(), site != "same-origin", site != "none" {
            throw HTTPFailure.forbidden("cross-site requests are refused (Sec-Fetch-Site: \(site))")
        }
        if let origin = request.headers[.origin] {
            let host = (request.head.authority ?? "").lowercased()
            guard let url = URL(string: origin), let originHost = url.host?.lowercased() else {
                throw HTTPFailure.forbidden("cross-site requests are refused (Origin: \(origin))")
            }
            let authority = originHost + (url.port.map { ":\($0)" } ?? "")
            let bracketed = "[\(originHost)]" + (url.port.map { ":\($0)" } ?? "")
            guard host == authority || host == bracketed else {
                throw HTTPFailure.forbidden("cross-site requests are refused (Origin: \(origin))")
            }
        }
    }

    /// A path on this server to go back to, or nil.
    static func safeBack(_ back: String?) -> String? {
        guard let back, back.hasPrefix("/"), !back.hasPrefix("//"), !back.contains("\\"),
              back.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else { return nil }
        return back
    }

    /// The current page's path and query without a `done` note: where forms come back to.
    static func backPath(_ request: Request) -> String {
        let kept = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("done=") }
        return request.uri.path + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
    }

    /// The sentence for a `done` note; unknown notes show nothing.
    static func notice(_ request: Request) -> String? {
        guard let done = RequestInput.query(request)["done"] else { return nil }
        let parts = done.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { return nil }
        if let note = controlNotice(parts[0], parts[1]) { return note }
        guard let n = Int(parts[1]) else { return nil }
        switch parts[0] {
        case "retried": return "Job \(n) was queued again."
        case "cancelled": return "Job \(n) was cancelled."
        case "cancel-requested": return "Job \(n) is running; its process was asked to abort it."
        case "enqueued": return "Job \(n) was enqueued."
        case "duplicate": return "Job \(n) already holds this task's unique key; nothing was enqueued."
        case "retried-all": return n == 1 ? "1 dead job was queued again." : "\(n) dead jobs were queued again."
        default: return nil
        }
    }

    func render(_ template: String, title: String, active: String, request: Request, context: [String: Any]) async throws -> Response {
        let store = self.store
        let dead = try await readIO { try store.jobCount(JobListParams(state: .dead)) }
        var context = context
        context["csrf"] = csrfToken
        context["back"] = Self.backPath(request)
        return .html(Dashboard.page(template, title: title, active: active, context: context,
                                    notice: Self.notice(request), deadCount: dead))
    }

    // MARK: pages

    func overviewPage(_ request: Request) async throws -> Response {
        let (store, registry) = (self.store, self.registry)
        let now = Date()
        struct Data: Sendable {
            var counts: [QueueStateCount]
            var minutes: [RunMinute]
            var lastMinute: [RunOutcome: Int]
            var lastHour: [RunOutcome: Int]
            var oldest: Date?
            var processes: [WorkerProcess]
            var fires: [(String, Date)]
            var errors: Int
        }
        let d = try await readIO {
            let snap = registry.current
            let fires = snap.sortedTasks.compactMap { def in Reports.nextFire(def, store: store, now: now).map { (def.name, $0) } }
                .sorted { $0.1 < $1.1 }
            return Data(counts: try store.jobCounts(), minutes: try store.runsPerMinute(minutes: 60, now: now),
                        lastMinute: try store.runCounts(since: now.addingTimeInterval(-60)),
                        lastHour: try store.runCounts(since: now.addingTimeInterval(-3600)),
                        oldest: try store.oldestDue(now: now), processes: try store.processList(),
                        fires: Array(fires.prefix(10)), errors: snap.errors.count)
        }
        func failed(_ c: [RunOutcome: Int]) -> Int { (c[.failed] ?? 0) + (c[.aborted] ?? 0) + (c[.discarded] ?? 0) }
        var totals: [JobState: Int] = [:]
        for c in d.counts { totals[c.state, default: 0] += c.count }
        let context: [String: Any] = [
            "states": Self.stateOrder.map { ["name": $0.rawValue, "count": totals[$0] ?? 0] as [String: Any] },
            "minuteSucceeded": d.lastMinute[.succeeded] ?? 0, "minuteFailed": failed(d.lastMinute),
            "hourSucceeded": d.lastHour[.succeeded] ?? 0, "hourFailed": failed(d.lastHour),
            "oldestQueued": d.oldest.map { Dashboard.span(max(0, now.timeIntervalSince($0))) } ?? "—",
            "processCount": d.processes.count, "busy": d.processes.reduce(0) { $0 + $1.busy },
            "chart": Dashboard.chart(d.minutes, now: now),
            "stateNames": Self.stateOrder.map(\.rawValue),
            "queues": queueRows(d.counts),
            "hasQueues": !d.counts.isEmpty,
            "fires": d.fires.map { task, at -> [String: Any] in
                ["task": task, "urlTask": RequestInput.encode(task), "at": Dashboard.clock(at), "relative": Dashboard.relative(at, now: now)]
            },
            "hasFires": !d.fires.isEmpty,
            "hasErrors": d.errors > 0,
            "errorText": d.errors == 1 ? "1 task file failed to load" : "\(d.errors) task files failed to load",
        ]
        return try await render("overview", title: "Overview", active: "/", request: request, context: context)
    }

    /// Queue names in priority order: declared ones first (config order), then the others by name.
    func orderedQueues(_ counts: [QueueStateCount]) -> [String] {
        let declared = config.queues.map(\.name)
        let others = Set(counts.map(\.queue)).subtracting(declared).sorted()
        return declared + others
    }

    func queueRows(_ counts: [QueueStateCount], onlyWithJobs: Bool = true, oldest: [String: Date] = [:], now: Date = Date()) -> [[String: Any]] {
        var byQueue: [String: [JobState: Int]] = [:]
        for c in counts { byQueue[c.queue, default: [:]][c.state, default: 0] += c.count }
        let declared = Dictionary(config.queues.map { ($0.name, $0.concurrency) }, uniquingKeysWith: { a, _ in a })
        var rows: [[String: Any]] = []
        for (rank, name) in orderedQueues(counts).enumerated() {
            guard !onlyWithJobs || byQueue[name] != nil else { continue }
            let states = byQueue[name] ?? [:]
            var row: [String: Any] = [
                "rank": rank + 1, "name": name, "urlName": RequestInput.encode(name),
                "declared": declared[name] != nil, "concurrency": declared[name] ?? config.defaultConcurrency,
                "cells": Self.stateOrder.map { state -> [String: Any] in
                    let n = states[state] ?? 0
                    var cell: [String: Any] = ["count": n, "zero": n == 0]
                    if n > 0 { cell["link"] = "/jobs?queue=\(RequestInput.encode(name))&state=\(state.rawValue)" }
                    return cell
                },
            ]
            if let at = oldest[name] {
                row["oldest"] = Dashboard.span(max(0, now.timeIntervalSince(at)))
                row["oldestAt"] = Dashboard.clock(at)
            }
            rows.append(row)
        }
        return rows
    }

    func queuesPage(_ request: Request) async throws -> Response {
        let store = self.store
        let now = Date()
        let (counts, oldest, paused) = try await readIO {
            (try store.jobCounts(), try store.oldestDuePerQueue(now: now), try store.queuesPaused())
        }
        // A paused queue without jobs is listed too, so that it can be resumed here.
        let withPaused = counts + paused.keys.map { QueueStateCount(queue: $0, state: .queued, count: 0) }
        let rows = queueRows(withPaused, onlyWithJobs: false, oldest: oldest, now: now).map { row -> [String: Any] in
            var row = row
            row["paused"] = paused[row["name"] as? String ?? ""] != nil
            return row
        }
        let context: [String: Any] = [
            "stateNames": Self.stateOrder.map(\.rawValue), "queues": rows, "hasQueues": !rows.isEmpty,
        ]
        return try await render("queues", title: "Queues", active: "/queues", request: request, context: context)
    }

    func tasksPage(_ request: Request) async throws -> Response {
        let (store, registry) = (self.store, self.registry)
        let now = Date()
        let snap = registry.current
        let views = try await readIO { () -> [String: [Reports.ScheduleView]] in
            let states = try store.scheduleStates()
            var out: [String: [Reports.ScheduleView]] = [:]
            for def in snap.sortedTasks {
                out[def.name] = def.allSchedules.map { Reports.scheduleView(def, $0, store: store, now: now, states: states) }
            }
            return out
        }
        let tasks = snap.sortedTasks.map { def -> [String: Any] in
            let r = def.retry
            var row: [String: Any] = [
                "name": def.name, "urlName": RequestInput.encode(def.name), "file": def.file,
                "queue": def.queue, "urlQueue": RequestInput.encode(def.queue),
                "priority": def.priority, "showPriority": def.priority != 0,
                "missed": def.missed.rawValue,
                "ttl": DurationText.format(def.ttl),
                "retry": r.attempts <= 1 ? "no retries"
                    : "\(r.attempts) attempts, \(r.backoff.rawValue) from \(DurationText.format(r.delay)) (max \(DurationText.format(r.maxDelay)))",
                "disabled": !def.enabled,
            ]
            let schedules = (views[def.name] ?? []).map { v -> [String: Any] in
                var s: [String: Any] = ["id": v.schedule.id, "text": v.schedule.text]
                if !v.schedule.label.isEmpty { s["label"] = v.schedule.label }
                if v.schedule.args != "{}" { s["args"] = v.schedule.args }
                if let at = v.lastFired { s["lastFired"] = Dashboard.relative(at, now: now); s["lastFiredAt"] = Dashboard.clock(at) }
                if let at = v.nextFire { s["nextFire"] = Dashboard.relative(at, now: now); s["nextFireAt"] = Dashboard.clock(at) }
                if v.overdue > 0 { s["overdue"] = "\(v.overdue) due while no runner was up" }
                if let c = v.catchUp { s["catchUp"] = Reports.ScheduleView.summary(c); s["catchUpAt"] = Dashboard.clock(c.through) }
                return s
            }
            row["schedules"] = schedules
            row["hasSchedules"] = !schedules.isEmpty
            if def.allSchedules.contains(where: { $0.schedule.usesTimeZone }) {
                let zone = def.timezone.identifier
                row["timezone"] = zone == "GMT" ? "UTC" : zone
            }
            if let u = def.unique { row["unique"] = u.description }
            if let e = def.expires { row["expires"] = DurationText.format(e) }
            return row
        }
        // A task whose file fails to load now runs its last good version: say so on its row.
        let broken = Dictionary(snap.errors.map { ($0.file, $0) }, uniquingKeysWith: { a, _ in a })
        let marked = tasks.map { row -> [String: Any] in
            guard let file = row["file"] as? String, let e = broken[file] else { return row }
            var row = row
            row["broken"] = (e.line.map { "line \($0): " } ?? "") + e.message
            return row
        }
        let errors = snap.errors.map { e -> [String: Any] in
            ["location": e.line.map { "\(e.file):\($0)" } ?? e.file, "message": e.message]
        }
        let context: [String: Any] = [
            "version": snap.version, "loadedAt": Dashboard.clock(snap.loadedAt),
            "tasks": marked, "hasTasks": !marked.isEmpty, "errors": errors, "hasErrors": !errors.isEmpty,
        ]
        return try await render("tasks", title: "Tasks", active: "/tasks", request: request, context: context)
    }

    func jobRow(_ job: Job, now: Date) -> [String: Any] {
        var row: [String: Any] = [
            "id": job.id, "task": job.task, "urlTask": RequestInput.encode(job.task),
            "queue": job.queue, "urlQueue": RequestInput.encode(job.queue), "state": job.state.rawValue,
            "attempt": job.attempt, "maxAttempts": job.maxAttempts,
            "runAt": Dashboard.relative(job.runAt, now: now), "runAtFull": Dashboard.clock(job.runAt),
            "canRetry": [.dead, .cancelled, .expired].contains(job.state),
            "canCancel": job.state.isActive,
        ]
        if let f = job.finishedAt {
            row["finishedAt"] = Dashboard.relative(f, now: now)
            row["finishedAtFull"] = Dashboard.clock(f)
        }
        if let e = job.error, !e.isEmpty {
            row["error"] = e
            row["errorShort"] = Dashboard.short(e)
        }
        if let p = job.progress { row["progress"] = Self.progressContext(p, now: now) }
        return row
    }

    /// A job's `job:progress` for the templates' progress bar (`<progress>`, no script needed).
    static func progressContext(_ p: JobProgress, now: Date) -> [String: Any] {
        var c: [String: Any] = ["summary": p.summary, "at": Dashboard.relative(p.at, now: now), "atFull": Dashboard.clock(p.at)]
        if let percent = p.percent { c["percent"] = percent; c["hasPercent"] = true }
        return c
    }

    func jobsPage(_ request: Request, deadOnly: Bool) async throws -> Response {
        let query = RequestInput.query(request)
        var params = try Self.parseListQuery(query.filter { ["state", "task", "queue", "offset", "q"].contains($0.key) })
        if deadOnly { params.state = .dead }
        params.limit = Self.pageSize
        let filter = params
        let store = self.store
        let now = Date()
        let (jobs, total, queues) = try await readIO { () throws -> ([Job], Int, [String]) in
            (try store.jobList(filter), try store.jobCount(filter), try store.jobQueueNames())
        }
        // Tasks from the registry (a scan for the distinct names of 1M jobs took 0.4 s);
        // queues from the config, the tasks and the index seeks of `jobQueueNames`.
        let names = (tasks: [String](), queues: Set(queues).union(registry.current.tasks.values.map(\.queue)).sorted())
        let path = deadOnly ? "/dead" : "/jobs"
        func link(offset: Int) -> String {
            path + RequestInput.queryString([
                ("state", deadOnly ? nil : filter.state?.rawValue), ("task", filter.task), ("queue", filter.queue),
                ("q", filter.search), ("offset", offset > 0 ? String(offset) : nil),
            ])
        }
        let taskNames = Set(names.tasks).union(registry.current.tasks.keys).union(filter.task.map { [$0] } ?? []).sorted()
        let queueNames = orderedQueues(names.queues.map { QueueStateCount(queue: $0, state: .queued, count: 0) })
            + (filter.queue.map { q in names.queues.contains(q) || config.queues.contains { $0.name == q } ? [] : [q] } ?? [])
        var context: [String: Any] = [
            "jobs": jobs.map { jobRow($0, now: now) },
            "hasJobs": !jobs.isEmpty,
            "withActions": deadOnly,
            "total": total,
            "first": filter.offset + 1, "last": filter.offset + jobs.count,
            "stateOptions": JobState.allCases.map { ["value": $0.rawValue, "selected": $0 == filter.state] as [String: Any] },
            "taskOptions": taskNames.map { ["value": $0, "selected": $0 == filter.task] as [String: Any] },
            "queueOptions": queueNames.map { ["value": $0, "selected": $0 == filter.queue] as [String: Any] },
            "filtered": filter.state != nil || filter.task != nil || filter.queue != nil || filter.search != nil,
            "search": filter.search ?? "",
        ]
        if let state = filter.state { context["filterState"] = state.rawValue }
        if filter.offset > 0 { context["prev"] = link(offset: max(0, filter.offset - Self.pageSize)) }
        if filter.offset + jobs.count < total { context["next"] = link(offset: filter.offset + Self.pageSize) }
        if deadOnly {
            return try await render("dead", title: "Dead jobs", active: "/dead", request: request, context: context)
        }
        return try await render("jobs", title: "Jobs", active: "/jobs", request: request, context: context)
    }

    func jobPage(_ request: Request, id: Int64) async throws -> Response {
        let store = self.store
        let now = Date()
        let (job, runs) = try await readIO { () throws -> (Job?, [JobRun]) in
            guard let job = try store.jobGet(id: id) else { return (nil, []) }
            return (job, try store.jobRuns(id: id))
        }
        guard let job else { throw HTTPFailure.notFound("job \(id) does not exist") }
        var context = jobRow(job, now: now)
        context["priority"] = job.priority
        context["createdAt"] = Dashboard.clock(job.createdAt)
        context["runAt"] = Dashboard.clock(job.runAt) + " (\(Dashboard.relative(job.runAt, now: now)))"
        if let f = job.finishedAt { context["finishedAt"] = Dashboard.clock(f) + " (\(Dashboard.relative(f, now: now)))" }
        if let s = job.scheduledFor { context["scheduledFor"] = Dashboard.clock(s) }
        if let k = job.uniqueKey { context["uniqueKey"] = k }
        context["args"] = Dashboard.pretty(job.args)
        if let r = job.result { context["result"] = Dashboard.pretty(r) }
        let lastFailed = runs.lastIndex { $0.traceback?.isEmpty == false }
        context["runs"] = runs.enumerated().map { index, run -> [String: Any] in
            var row: [String: Any] = ["attempt": run.attempt, "startedAt": Dashboard.clock(run.startedAt), "worker": run.worker,
                                      "last": index == lastFailed]
            if let f = run.finishedAt {
                row["finishedAt"] = Dashboard.clock(f)
                row["took"] = Dashboard.took(max(0, f.timeIntervalSince(run.startedAt)))
            } else {
                row["took"] = Dashboard.took(max(0, now.timeIntervalSince(run.startedAt)))
            }
            if let o = run.outcome { row["outcome"] = o.rawValue }
            if let e = run.error, !e.isEmpty { row["error"] = e }
            if let t = run.traceback, !t.isEmpty { row["traceback"] = t }
            return row
        }
        context["hasRuns"] = !runs.isEmpty
        return try await render("job", title: "Job \(id)", active: "/jobs", request: request, context: context)
    }
}
