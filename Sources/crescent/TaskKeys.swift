import CrescentCore
import CrescentLua
import CrescentRuntime
import Foundation
import Logging

enum TaskKeys {
    /// Unique keys of `unique = { by = function }` tasks need a Lua VM: one is started only
    /// when such a task is enqueued from the command line.
    static func functionKey(config: Config, snapshot: TaskSnapshot, registry: TaskRegistry) -> @Sendable (String, String) throws -> String? {
        { task, args in
            let worker = try LuaWorker(index: 0, config: config.luaConfig, host: ExecHost(store: nil, registry: registry),
                                       logger: Logger(label: "crescent"))
            defer { worker.shutdown() }
            _ = worker.install(snapshot)
            return try worker.uniqueKey(task: task, args: args)
        }
    }
}
