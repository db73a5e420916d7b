import ArgumentParser
import CrescentCore
import CrescentRuntime
import Foundation

struct EnqueueCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "enqueue", abstract: "Enqueue a job; prints its id.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The task name, e.g. mail/digest.") var task: String
    @Option(help: "Args as a JSON object.") var args: String?
    @Option(help: "Queue (default: the task's).") var queue: String?
    @Option(parsing: .unconditional, help: "Priority, -1000000000 to 1000000000 (higher runs first).") var priority: Int64?
    @Option(name: .customLong("in"), parsing: .unconditional, help: "Run after this duration, e.g. 5m.") var delay: String?
    @Option(parsing: .unconditional, help: "Run at this time (ISO 8601 or epoch seconds).") var at: String?
    @Flag(help: "Print {\"id\": N, \"duplicate\": false}.") var json = false

    /// `--args` is a JSON object, as its help says (the API also takes an array; the CLI does not).
    static func objectArgs(_ text: String?) throws(CrescentError) -> String? {
        guard let text, case .array? = try? JSONValue.decode(text) else { return text }
        throw .usage("--args must be a JSON object, e.g. {\"id\": 42}, not an array")
    }

    func execute() throws {
        let config = try options.load()
        if delay != nil && at != nil { throw CrescentError.usage("give --in or --at, not both") }
        var runAt: Date?
        if let delay { runAt = try InputRange.time(after: try DurationText.parse(delay)) }
        if let at { runAt = try TimeText.parse(at) }
        let priority = try priority.map { p throws(CrescentError) in try InputRange.priority(p, "--priority") }
        let store = try config.openStore()
        let (snapshot, registry) = config.loadTasks(store: store)
        let enqueuer = Enqueuer(store: store, registry: registry, functionKey: TaskKeys.functionKey(config: config, snapshot: snapshot, registry: registry))
        let result = try enqueuer.enqueue(.init(task: task, args: try Self.objectArgs(args), queue: queue, priority: priority, runAt: runAt))
        if json {
            Output.json(.object(["id": .int(result.id), "duplicate": .bool(result.duplicate)]))
        } else {
            Output.line(result.duplicate ? "\(result.id) duplicate" : "\(result.id)")
        }
    }
}
