import CrescentCore

/// The operator's routes in the OpenAPI document: pausing queues, quieting or stopping a
/// process, bulk actions on jobs (HTTPServer+Control.swift, HTTPServer+Bulk.swift).
extension OpenAPI {
    static func pathParameter(_ name: String, _ description: String) -> JSONValue {
        .object(["name": .string(name), "in": .string("path"), "required": .bool(true), "description": .string(description),
                 "schema": .object(["type": .string("string"), "minLength": .int(1)]), "example": .string("default")])
    }

    static let queueParameter = pathParameter("name", "A queue's name (percent-encoded).")
    static let processParameter = pathParameter("id", "A process id, as `crescent status` lists it (percent-encoded).")

    /// A JSON object response described inline.
    static func object(_ description: String, _ schemaText: String) -> JSONValue {
        .object(["description": .string(description), "content": .object(["application/json": .object(["schema": schema(schemaText)])])])
    }

    static let queueResult = #"""
        {"type": "object", "required": ["queue", "paused", "changed"], "properties": {
          "queue": {"type": "string"}, "paused": {"type": "boolean"},
          "changed": {"type": "boolean", "description": "False when the queue already was in that state."}}}
        """#
    /// `POST /api/jobs/bulk`: ids, or a filter whose state the action allows.
    static var bulkRequest: String {
        func states(_ list: [JobState]) -> String { list.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
        func filter(_ actions: String, _ allowed: [JobState]) -> String {
            #"{"type": "object", "required": ["action", "state"], "additionalProperties": false, "properties": {"#
                + #""action": {"type": "string", "enum": [\#(actions)]}, "state": {"type": "string", "enum": [\#(states(allowed))]},"#
                + #""task": {"type": "string"}, "queue": {"type": "string"}}}"#
        }
        return #"{"oneOf": [{"type": "object", "required": ["action", "ids"], "additionalProperties": false, "properties": {"#
            + #""action": {"type": "string", "enum": ["retry", "delete", "cancel", "run-now"]},"#
            + #""ids": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": 9223372036854775807}}}}, "#
            + filter(#""retry""#, [.dead, .cancelled, .expired]) + ", "
            + filter(#""delete""#, JobState.allCases.filter { $0 != .running }) + ", "
            + filter(#""cancel", "run-now""#, JobState.allCases) + "]}"
    }

    static let processResult = #"""
        {"type": "object", "required": ["process", "request"], "properties": {
          "process": {"type": "string"}, "request": {"type": "string", "enum": ["quiet", "stop"]}}}
        """#

    /// A dashboard form with extra fields beside `csrf` and `back`.
    static func controlForm(_ path: String, _ id: String, _ summary: String, parameters: [JSONValue] = [],
                            fields: String = "", notFound: String? = nil) -> APIOperation {
        var op = form(path, id, summary, job: false)
        op.parameters = parameters
        if !fields.isEmpty, case .object(var body)? = op.body, case .object(var content)? = body["content"],
           case .object(var form)? = content["application/x-www-form-urlencoded"], case .object(var s)? = form["schema"],
           case .object(var properties)? = s["properties"], case .object(let extra) = schema("{\(fields)}") {
            for (k, v) in extra { properties[k] = v }
            s["properties"] = .object(properties)
            form["schema"] = .object(s)
            content["application/x-www-form-urlencoded"] = .object(form)
            body["content"] = .object(content)
            op.body = .object(body)
        }
        if let notFound { op.responses["404"] = error(notFound, html: true) }
        return op
    }

    static let controlOperations: [APIOperation] = [true, false].flatMap { pause -> [APIOperation] in
        let verb = pause ? "pause" : "resume"
        return [
            APIOperation(
                method: "POST", path: "/api/queues/{name}/\(verb)", id: "\(verb)Queue", tag: "operations",
                summary: pause ? "Pause a queue: no process claims from it; running jobs finish" : "Resume a paused queue",
                parameters: [queueParameter],
                responses: ["200": object("The queue's state now.", queueResult),
                            "400": error("The name is empty or not valid percent-encoding."),
                            "404": error("No queue of that name is declared, named by a task, holding jobs or paused.")]),
            controlForm("/queues/{name}/\(verb)", "\(verb)QueueForm", "\(pause ? "Pause" : "Resume") a queue (dashboard button)",
                        parameters: [queueParameter], notFound: "No such queue."),
        ]
    } + ["quiet", "stop"].flatMap { request -> [APIOperation] in
        [
            APIOperation(
                method: "POST", path: "/api/processes/{id}/\(request)", id: "\(request)Process", tag: "operations",
                summary: request == "quiet" ? "Ask one process to claim nothing new (its running jobs finish)" : "Ask one process to stop gracefully",
                parameters: [processParameter],
                responses: ["202": object("The process acts on it within a second.", processResult),
                            "400": error("The id is empty or not valid percent-encoding."),
                            "404": error("No registered process has this id.")]),
            controlForm("/processes/{id}/\(request)", "\(request)ProcessForm", "\(request == "quiet" ? "Quiet" : "Stop") one process (dashboard button)",
                        parameters: [processParameter], notFound: "No such process."),
        ]
    } + [
        APIOperation(
            method: "POST", path: "/api/jobs/bulk", id: "bulkJobs", tag: "jobs", summary: "One action on many jobs, by ids or by filter",
            body: .object(["required": .bool(true), "content": .object(["application/json": .object([
                "schema": schema(bulkRequest), "example": .object(["action": .string("retry"), "ids": .array([.int(1)])]),
            ])])]),
            responses: ["200": object("What matched the ids or filter, and the ids the action changed.", #"""
                {"type": "object", "required": ["action", "matched", "done"], "properties": {
                  "action": {"type": "string"}, "matched": {"type": "integer", "minimum": 0},
                  "done": {"type": "array", "items": {"type": "integer"}}}}
                """#),
                        "400": error("Not a JSON object of the known fields, an unknown action or state, ids together with a filter, or deleting running jobs.")]),
        controlForm("/jobs/bulk", "bulkJobsForm", "Bulk retry, delete, cancel or run now (dashboard checkboxes)", fields: #"""
            "action": {"type": "string", "enum": ["retry", "delete", "cancel", "run-now"]},
            "confirm": {"type": "string", "description": "yes: the confirmation box is ticked."},
            "all": {"type": "string", "description": "yes: every job in `state` (needs `confirm_state`)."},
            "state": {"type": "string"}, "confirm_state": {"type": "string", "description": "The state's name, typed."}
            """#),
        controlForm("/tasks/run", "runTaskForm", "Run a task now, with one of its schedules' args (tasks page button)", fields: #"""
            "task": {"type": "string", "description": "The task's name."},
            "schedule": {"type": "string", "description": "A schedule's id: its args are the job's (none: `{}`)."}
            """#, notFound: "No loaded task of that name, or no schedule of that id."),
    ]
}
