import CrescentCore
import CrescentStore
import Foundation

/// Enqueue from outside a handler (CLI, HTTP API): validates the task and args, applies the
/// task's defaults and its uniqueness, inserts.
public struct Enqueuer: Sendable {
    public struct Request: Sendable {
        public var task: String
        public var args: String?
        public var queue: String?
        public var priority: Int?
        public var runAt: Date?
        public init(task: String, args: String? = nil, queue: String? = nil, priority: Int? = nil, runAt: Date? = nil) {
            self.task = task; self.args = args; self.queue = queue; self.priority = priority; self.runAt = runAt
        }
    }

    let store: JobStore
    let registry: TaskRegistry
    /// Computes keys for `unique = { by = function }` tasks (needs a Lua VM).
    let functionKey: @Sendable (String, String) throws -> String?

    public init(store: JobStore, registry: TaskRegistry, functionKey: @escaping @Sendable (String, String) throws -> String?) {
        self.store = store
        self.registry = registry
        self.functionKey = functionKey
    }

    /// Validates without touching the database: the insert this request would make.
    public func prepare(_ request: Request) throws(CrescentError) -> JobInsertParams {
        guard let definition = registry.task(named: request.task) else {
            let known = registry.current.tasks.keys.sorted()
            throw .notFound("unknown task \"\(request.task)\"" + (known.isEmpty ? " (no tasks are loaded)" : " (known tasks: \(known.joined(separator: ", ")))"))
        }
        let args = try Enqueuer.canonicalArgs(request.args)
        if let queue = request.queue, queue.trimmingCharacters(in: .whitespaces).isEmpty {
            throw .usage("queue name cannot be empty")
        }
        var uniqueKey: String?
        if definition.unique?.by == .function {
            do {
                uniqueKey = try functionKey(definition.name, args)
            } catch {
                throw .failed("the unique key function of task \"\(definition.name)\" failed: \(error)")
            }
        }
        return definition.newJob(args: args, queue: request.queue, priority: request.priority,
                                 runAt: request.runAt ?? Date(), uniqueKey: uniqueKey)
    }

    public func enqueue(_ request: Request) throws(CrescentError) -> JobInsertResult {
        let params = try prepare(request)
        do {
            return try store.jobInsert(params)
        } catch {
            throw .failed("could not enqueue: \(error)")
        }
    }

    /// Args must be a JSON object (or array); returns canonical JSON text.
    public static func canonicalArgs(_ text: String?) throws(CrescentError) -> String {
        guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { return "{}" }
        let value: JSONValue
        do {
            value = try JSONValue.decode(text)
        } catch {
            throw .usage("args are not valid JSON: \(error.message)")
        }
        switch value {
        case .object, .array:
            let canonical = value.encoded()
            guard canonical.utf8.count <= SizeLimits.args else {
                throw .usage("args are \(canonical.utf8.count) bytes of JSON, more than the \(SizeLimits.describe(SizeLimits.args)) a job's args may hold")
            }
            return canonical
        default: throw .usage("args must be a JSON object, e.g. {\"id\": 42}")
        }
    }
}
