/// What task code can reach, described for editors and linters (`crescent types`).
///
/// `LuaDefinitions` renders it as LuaCATS annotations for lua-language-server and as a
/// `.luacheckrc`; `crescent check` uses it for "did you mean". A test walks a fresh sandboxed
/// `_ENV` (and the job table, the task fields, the option keys of `http` and `queue.push`)
/// and requires every name there to be here and every name here to be there, so the
/// description cannot drift from what the sandbox registers.
public enum HostAPICatalog {
    /// One parameter or return value: a name and a LuaCATS type.
    public struct Value: Sendable, Equatable {
        public var name: String
        public var type: String
        public var doc: String
        public init(_ name: String, _ type: String, _ doc: String = "") { self.name = name; self.type = type; self.doc = doc }
    }

    public struct Function: Sendable {
        public var name: String
        public var params: [Value]
        public var returns: [Value]
        public var doc: String
        public init(_ name: String, _ params: [Value] = [], returns: [Value] = [], _ doc: String) {
            self.name = name; self.params = params; self.returns = returns; self.doc = doc
        }
    }

    public enum Global: Sendable {
        /// A table of functions and values (`http`, `json`, …).
        case table(name: String, doc: String, functions: [Function], fields: [Value])
        /// A function (`sleep`, `now`).
        case function(Function)
        /// A plain value (`env`, `_VERSION`, `_G`).
        case value(Value)
        /// A global of standard Lua that lua-language-server knows already (maybe with fewer
        /// options here, see docs/lua-api.md): not redefined; its fields, for linters, are
        /// read from a live sandbox (`SandboxGlobals`).
        case standard(name: String)

        public var name: String {
            switch self {
            case .table(let name, _, _, _): return name
            case .function(let f): return f.name
            case .value(let v): return v.name
            case .standard(let name): return name
            }
        }
    }

    static let duration = "string|number"

    /// The sandbox's globals, in the order the definitions list them.
    public static let globals: [Global] = [
        .table(name: "http", doc: "HTTP requests; the job waits for the answer without blocking others.", functions: [
            Function("request", [Value("opts", "crescent.HTTPRequest")], returns: [Value("res", "crescent.HTTPResponse")],
                     "Sends a request; returns the response of any status. Raises on network errors and timeouts."),
            Function("get", [Value("url", "string"), Value("opts?", "crescent.HTTPOptions")], returns: [Value("res", "crescent.HTTPResponse")],
                     "GET `url`."),
            Function("head", [Value("url", "string"), Value("opts?", "crescent.HTTPOptions")], returns: [Value("res", "crescent.HTTPResponse")],
                     "HEAD `url`."),
            Function("delete", [Value("url", "string"), Value("opts?", "crescent.HTTPOptions")], returns: [Value("res", "crescent.HTTPResponse")],
                     "DELETE `url`."),
            Function("post", [Value("url", "string"), Value("body?", "string|table"), Value("opts?", "crescent.HTTPOptions")],
                     returns: [Value("res", "crescent.HTTPResponse")], "POST `body` (a table is sent as JSON) to `url`."),
            Function("put", [Value("url", "string"), Value("body?", "string|table"), Value("opts?", "crescent.HTTPOptions")],
                     returns: [Value("res", "crescent.HTTPResponse")], "PUT `body` (a table is sent as JSON) to `url`."),
            Function("patch", [Value("url", "string"), Value("body?", "string|table"), Value("opts?", "crescent.HTTPOptions")],
                     returns: [Value("res", "crescent.HTTPResponse")], "PATCH `body` (a table is sent as JSON) to `url`."),
        ], fields: []),
        .table(name: "queue", doc: "Enqueueing other jobs.", functions: [
            Function("push", [Value("task", "string"), Value("args?", "table"), Value("opts?", "crescent.PushOptions")],
                     returns: [Value("id", "integer"), Value("duplicate", "boolean")],
                     "Enqueues a job of `task` if this attempt succeeds; returns its id, and true when an active unique job was found instead."),
        ], fields: []),
        .table(name: "store", doc: "A persistent key-value map per task; writes apply when the attempt succeeds.", functions: [
            Function("get", [Value("key", "string")], returns: [Value("value", "any")], "The key's value, or nil."),
            Function("set", [Value("key", "string"), Value("value", "any")], "Sets the key (nil deletes it) when the attempt succeeds."),
            Function("delete", [Value("key", "string")], "Deletes the key when the attempt succeeds."),
            Function("incr", [Value("key", "string"), Value("by?", "number")], returns: [Value("value", "number")],
                     "Adds `by` (default 1) to the key's number; returns the new value."),
        ], fields: []),
        .table(name: "json", doc: "JSON encoding and decoding.", functions: [
            Function("encode", [Value("value", "any")], returns: [Value("text", "string")], "Encodes a value as JSON text."),
            Function("decode", [Value("text", "string")], returns: [Value("value", "any")], "Decodes JSON text; JSON null becomes json.null."),
        ], fields: [Value("null", "crescent.Null", "JSON null (truthy in Lua: compare with ==).")]),
        .table(name: "log", doc: "Log lines with the job's id, task, queue and attempt.", functions: [
            Function("debug", [Value("message", "any"), Value("fields?", "table")], "Logs at level debug."),
            Function("info", [Value("message", "any"), Value("fields?", "table")], "Logs at level info."),
            Function("warn", [Value("message", "any"), Value("fields?", "table")], "Logs at level warning."),
            Function("error", [Value("message", "any"), Value("fields?", "table")], "Logs at level error."),
        ], fields: []),
        .function(Function("sleep", [Value("duration", duration)], "Suspends this job for a duration (\"250ms\", \"5s\" or seconds).")),
        .function(Function("now", returns: [Value("seconds", "number")], "The wall clock as epoch seconds.")),
        .value(Value("env", "table<string, string>", "The config's [env] values (read-only).")),
        .table(name: "os", doc: "The part of os the sandbox keeps.", functions: [
            Function("time", [Value("date?", "table")], returns: [Value("seconds", "integer")], "Epoch seconds now, or of a date table."),
            Function("clock", returns: [Value("seconds", "number")], "CPU time used by the process, in seconds."),
            Function("date", [Value("format?", "string"), Value("time?", "integer")], returns: [Value("date", "string|table")],
                     "Formats a time (os.date of standard Lua)."),
        ], fields: []),
    ] + ["string", "table", "math", "utf8", "coroutine",
         "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen", "rawset", "select",
         "setmetatable", "getmetatable", "tonumber", "tostring", "type", "xpcall", "_VERSION", "_G",
         "collectgarbage", "load", "print", "require"].map { Global.standard(name: $0) }

    /// The fields of the job table passed to the handler.
    public static let jobFields: [Value] = [
        Value("id", "integer", "The job's id, the same for every attempt."),
        Value("task", "string", "The task's name."),
        Value("queue", "string", "The queue it was taken from."),
        Value("priority", "integer", "Its priority."),
        Value("args", "table", "The args given at enqueue (`{}` when none)."),
        Value("attempt", "integer", "Which attempt this is, from 1."),
        Value("max_attempts", "integer", "Attempts allowed; equal to attempt on the last try."),
        Value("scheduled_for", "string?", "The schedule occurrence (ISO 8601 UTC) for a scheduled job, else nil."),
    ]

    /// The methods of the job table.
    public static let jobMethods: [Function] = [
        Function("snooze", [Value("duration", duration)], returns: [Value("outcome", "crescent.Snooze")],
                 "Return it to run again after `duration` without using up an attempt."),
        Function("discard", [Value("reason?", "any")], returns: [Value("outcome", "crescent.Discard")],
                 "Return it to end the job as dead now with `reason`."),
        Function("progress", [Value("done", "number"), Value("total?", "number"), Value("note?", "string")],
                 "Records how far the job got (numbers finite and >= 0, note up to 200 bytes); shown by crescent job, the API and the dashboard."),
    ]

    /// The fields of the table a task file returns (checked against `TaskValidation.fields`).
    public static let taskFields: [Value] = [
        Value("handler", "fun(job: crescent.Job): any", "Called once per attempt with the job."),
        Value("name?", "string", "The task's name (default: the file's path without .lua)."),
        Value("queue?", "string", "The queue its jobs go to (default \"default\")."),
        Value("priority?", "integer", "Higher runs first within a queue (default 0)."),
        Value("schedule?", "string", "A cron expression, \"every 5m\", or a one-time \"at\" time."),
        Value("args?", "table", "Args of the scheduled jobs (default {})."),
        Value("schedules?", "crescent.ScheduleEntry[]", "Several schedules, each with its own args."),
        Value("enabled?", "boolean", "false stops the schedule(s); jobs can still be enqueued (default true)."),
        Value("timezone?", "string", "IANA zone for cron schedules (default \"UTC\")."),
        Value("missed?", "\"skip\"|\"once\"|\"all\"", "What to do with occurrences missed while no runner was up."),
        Value("unique?", "boolean|\"task\"|\"args\"|crescent.Unique", "Refuse a second job while one is active."),
        Value("ttl?", duration, "Longest time one attempt may take (default \"30m\")."),
        Value("expires?", duration, "Give up on a job not started this long after it was due."),
        Value("retry?", "crescent.Retry", "How failed attempts are retried."),
        Value("retention?", "crescent.Retention", "How long finished jobs are kept, per state (overrides [retention])."),
    ]

    /// Option tables and result shapes the functions above name.
    public static let classes: [(name: String, doc: String, fields: [Value])] = [
        ("crescent.HTTPOptions", "Options of the http shorthands.", [
            Value("headers?", "table<string, string|number|boolean>", "Request headers."),
            Value("body?", "string|table", "The body; a table is sent as JSON."),
            Value("json?", "table", "Sent as JSON."),
            Value("timeout?", duration, "For the whole request (default [http_client] timeout)."),
        ]),
        ("crescent.HTTPRequest : crescent.HTTPOptions", "Options of http.request.", [
            Value("url", "string", "An http:// or https:// URL."),
            Value("method?", "string", "Default \"GET\"."),
        ]),
        ("crescent.HTTPResponse", "An HTTP response.", [
            Value("status", "integer", "The HTTP status."),
            Value("headers", "table<string, string>", "Header names in lower case."),
            Value("body", "string", "The body."),
            Value("json", "fun(self: crescent.HTTPResponse): any", "Decodes the body as JSON."),
        ]),
        ("crescent.PushOptions", "Options of queue.push.", [
            Value("queue?", "string", "Queue to put it in."),
            Value("priority?", "integer", "Its priority."),
            Value("delay?", duration, "Due this long from now."),
            Value("at?", "string|number", "Due at this time (ISO 8601 or epoch seconds)."),
            Value("unique?", "boolean|\"task\"|\"args\"", "Override the task's uniqueness."),
        ]),
        ("crescent.Retry", "The retry table of a task.", [
            Value("attempts?", "integer", "Total attempts (default 5)."),
            Value("backoff?", "\"exponential\"|\"linear\"|\"fixed\"", "How the wait grows."),
            Value("delay?", duration, "The base wait (default \"15s\")."),
            Value("max_delay?", duration, "Upper bound of the wait (default \"1h\")."),
            Value("jitter?", "number", "Random spread, 0 to 1 (default 0.1)."),
        ]),
        ("crescent.Unique", "The unique table of a task.", [
            Value("by?", "\"task\"|\"args\"|fun(args: table): any", "What makes two jobs the same."),
            Value("period?", duration, "Also refuse for this long after one finished."),
        ]),
        ("crescent.ScheduleEntry", "One entry of a task's schedules: one of cron, every, at or schedule.", [
            Value("cron?", "string", "A cron line or macro."),
            Value("every?", "string", "An interval, e.g. \"5m\"."),
            Value("at?", "string", "A one-time instant."),
            Value("schedule?", "string", "Any schedule string."),
            Value("args?", "table", "Args of its jobs (default: the task's args)."),
            Value("name?", "string", "Its id (default: its position)."),
        ]),
        ("crescent.Retention", "The retention table of a task.", [
            Value("succeeded?", duration, "Keep succeeded jobs this long (\"0s\": remove at once)."),
            Value("dead?", duration, "Keep dead jobs this long."),
            Value("cancelled?", duration, "Keep cancelled jobs this long."),
            Value("expired?", duration, "Keep expired jobs this long."),
        ]),
        ("crescent.Snooze", "What job:snooze returns.", []),
        ("crescent.Discard", "What job:discard returns.", []),
        ("crescent.Null", "json.null, JSON's null.", []),
    ]

    /// A class's field names (without the `?` of optional ones).
    public static func fieldNames(ofClass name: String) -> [String] {
        classes.first { $0.name == name || $0.name.hasPrefix(name + " ") }?.fields.map(\.bareName) ?? []
    }

    /// Every global name.
    public static var globalNames: [String] { globals.map(\.name) }
}

extension HostAPICatalog.Value {
    /// The name without the `?` that marks an optional parameter or field.
    public var bareName: String { name.hasSuffix("?") ? String(name.dropLast()) : name }
}
