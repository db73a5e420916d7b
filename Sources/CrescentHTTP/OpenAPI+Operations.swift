import CrescentCore

/// Every route of the server, as the OpenAPI document lists it. One entry per route: a route
/// the router has and this table lacks (or the other way round) fails `OpenAPITests`.
extension OpenAPI {
    static let operations: [APIOperation] = apiOperations + dashboardOperations + opsOperations + controlOperations

    // MARK: JSON API

    static let filterParameters: [JSONValue] = [
        query("state", .object(["type": .string("string"), "enum": .array([.string("")] + JobState.allCases.map { .string($0.rawValue) })]),
              "Only jobs in this state (empty: any)."),
        query("task", .object(["type": .string("string")]), "Only jobs of this task (empty: any)."),
        query("queue", .object(["type": .string("string")]), "Only jobs in this queue (empty: any)."),
    ]
    static let offsetParameter = query("offset", .object(["type": .string("integer"), "minimum": .int(0), "maximum": .int(Int64(InputRange.offsets.upperBound)), "default": .int(0)]),
                                       "How many jobs to skip.")

    static let apiOperations: [APIOperation] = [
        APIOperation(
            method: "POST", path: "/api/jobs", id: "enqueueJob", tag: "jobs", summary: "Enqueue a job",
            description: "Adds a job of a loaded task. A unique task whose key an active job holds adds nothing and answers that job's id with `duplicate: true`.",
            body: .object(["required": .bool(true), "content": .object(["application/json": .object(["schema": ref("EnqueueRequest")])])]),
            responses: [
                "201": json("The job was added, or a duplicate was found.", "EnqueueResult"),
                "400": error("The body is not a JSON object of the known fields, or a value is out of range."),
                "404": error("No loaded task has this name."),
            ]),
        APIOperation(
            method: "GET", path: "/api/jobs", id: "listJobs", tag: "jobs", summary: "List jobs, newest first",
            parameters: filterParameters + [
                query("limit", .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(Int64(HTTPServer.maxListLimit)), "default": .int(50)]),
                      "How many jobs to return."),
                offsetParameter,
            ],
            responses: ["200": jsonArray("The jobs, without their runs.", of: "Job"), "400": error("A parameter is out of range or unknown.")]),
        APIOperation(
            method: "GET", path: "/api/jobs/{id}", id: "getJob", tag: "jobs", summary: "One job with its runs",
            parameters: [jobIDParameter],
            responses: ["200": json("The job and its attempts.", "JobWithRuns"), "400": error("The id is not a positive integer."),
                        "404": error("No such job.")]),
        APIOperation(
            method: "POST", path: "/api/jobs/{id}/retry", id: "retryJob", tag: "jobs", summary: "Queue a dead, cancelled or expired job again",
            parameters: [jobIDParameter],
            responses: ["200": json("The job, now queued.", "Job"), "400": error("The id is not a positive integer."),
                        "404": error("No such job."), "409": error("The job is in another state, or another active job holds its unique key.")]),
        APIOperation(
            method: "POST", path: "/api/jobs/{id}/cancel", id: "cancelJob", tag: "jobs", summary: "Cancel a job",
            parameters: [jobIDParameter],
            responses: ["200": json("The job was waiting and is now cancelled.", "Job"),
                        "202": json("The job is running; its process was asked to abort it.", "Job"),
                        "400": error("The id is not a positive integer."), "404": error("No such job."),
                        "409": error("The job already finished.")]),
        APIOperation(
            method: "GET", path: "/api/tasks", id: "listTasks", tag: "reports", summary: "Loaded tasks and task files that failed to load",
            responses: ["200": json("As `crescent tasks --json`.", "Tasks")]),
        APIOperation(
            method: "GET", path: "/api/stats", id: "getStats", tag: "reports", summary: "Counts per queue and state, processes, next fires",
            responses: ["200": json("As `crescent status --json`.", "Stats")]),
        APIOperation(
            method: "GET", path: "/api/openapi.json", id: "getOpenAPI", tag: "reports", summary: "This document",
            responses: ["200": .object(["description": .string("The OpenAPI 3.1 document."),
                                        "content": .object(["application/json": .object(["schema": .object(["type": .string("object")])])])])]),
    ]

    // MARK: dashboard

    static func page(_ path: String, _ id: String, _ summary: String, parameters: [JSONValue] = [], notFound: Bool = false) -> APIOperation {
        var responses: [String: JSONValue] = ["200": html("The page; it works without JavaScript.")]
        if !parameters.isEmpty { responses["400"] = error("A parameter is out of range or unknown.", html: true) }
        if notFound { responses["404"] = error("No such job.", html: true) }
        let done = query("done", .object(["type": .string("string")]), "A note of what a form just did, shown on the page (unknown notes show nothing).")
        return APIOperation(method: "GET", path: path, id: id, tag: "dashboard", summary: summary,
                            parameters: parameters + [done], responses: responses)
    }

    static func form(_ path: String, _ id: String, _ summary: String, job: Bool) -> APIOperation {
        let schema = schema(#"""
            {"type": "object", "required": ["csrf"], "properties": {
              "csrf": {"type": "string", "description": "The token of the page the form is on."},
              "back": {"type": "string", "description": "A path on this server to return to."}}}
            """#)
        var responses: [String: JSONValue] = [
            "303": .object(["description": .string("Done; back to the page (`Location`), which tells what happened."),
                            "headers": .object(["Location": .object(["schema": .object(["type": .string("string")])])])]),
            "400": error("The body is not valid UTF-8, or the id is not a positive integer.", html: true),
            "403": error("The form has no valid CSRF token, or a browser marked the request as cross-site.", html: true),
        ]
        if job {
            responses["404"] = error("No such job.", html: true)
            responses["409"] = error("The job is in a state that does not allow this.", html: true)
        }
        return APIOperation(method: "POST", path: path, id: id, tag: "dashboard", summary: summary,
                            parameters: job ? [jobIDParameter] : [],
                            body: .object(["required": .bool(true), "content": .object(["application/x-www-form-urlencoded": .object([
                                "schema": schema, "example": .object(["csrf": .string("token-of-the-page"), "back": .string("/dead")]),
                            ])])]),
                            responses: responses)
    }

    static let dashboardOperations: [APIOperation] = [
        page("/", "overviewPage", "Overview: counts, runs per minute, next fires"),
        page("/queues", "queuesPage", "Queues in priority order"),
        page("/tasks", "tasksPage", "Tasks and task files that failed to load"),
        page("/jobs", "jobsPage", "Jobs, 50 per page", parameters: filterParameters + [offsetParameter]),
        page("/jobs/{id}", "jobPage", "One job with its runs", parameters: [jobIDParameter], notFound: true),
        page("/dead", "deadPage", "Dead jobs", parameters: filterParameters + [offsetParameter]),
        page("/processes", "processesPage", "Running processes and the store"),
        APIOperation(
            method: "GET", path: "/dashboard.js", id: "dashboardScript", tag: "dashboard",
            summary: "The script that refreshes dashboard pages in place (they work without it)",
            responses: ["200": .object(["description": .string("JavaScript."),
                                        "content": .object(["text/javascript": .object(["schema": .object(["type": .string("string")])])])])]),
        form("/jobs/{id}/retry", "retryJobForm", "Retry a job (dashboard button)", job: true),
        form("/jobs/{id}/cancel", "cancelJobForm", "Cancel a job (dashboard button)", job: true),
        form("/dead/retry-all", "retryAllDeadForm", "Retry every dead job (dashboard button)", job: false),
    ]

    // MARK: operations

    static let opsOperations: [APIOperation] = [
        APIOperation(
            method: "GET", path: "/metrics", id: "metrics", tag: "operations", summary: "Prometheus metrics",
            responses: ["200": .object(["description": .string("Prometheus text format."),
                                        "content": .object(["text/plain": .object(["schema": .object(["type": .string("string")])])])])]),
        APIOperation(
            method: "GET", path: "/healthz", id: "health", tag: "operations", summary: "Health check (never asks for the password)",
            responses: ["200": json("The process is healthy.", "Health"),
                        "503": error("The database does not answer or cannot be written, or its file was removed.")],
            open: true),
    ]
}
