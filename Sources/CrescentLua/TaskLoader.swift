import CrescentCore
import Foundation
import Logging

/// The tasks a snapshot defines, and the files that failed to load.
public struct TaskSet: Sendable {
    public var definitions: [TaskDefinition]
    public var errors: [TaskLoadError]
    public init(definitions: [TaskDefinition], errors: [TaskLoadError]) {
        self.definitions = definitions; self.errors = errors
    }
}

public enum TaskLoader {
    /// Loads each task file of the snapshot in a scratch VM (the sandbox, a time limit per
    /// file, chunks named `@tasks/<file>.lua` so errors carry file:line) and validates it.
    /// A broken file never stops the others; a name defined twice is an error for the
    /// second file.
    public static func load(_ snapshot: TaskSnapshot, config: LuaConfig) -> TaskSet {
        let vm: LuaVM
        do {
            vm = try LuaVM(config: config, host: nil, logger: Logger(label: "crescent.tasks", factory: { _ in SwiftLogNoOpLogHandler() }))
        } catch {
            return TaskSet(definitions: [], errors: [TaskLoadError(file: "", line: nil, message: "\(error)")])
        }
        let (definitions, errors) = vm.install(snapshot)
        return TaskSet(definitions: definitions, errors: errors)
    }

    /// Reads the tasks dir of `config` and loads it.
    public static func load(config: LuaConfig, version: Int = 0) -> TaskSet {
        load(TaskSnapshot.read(tasksDir: config.tasksDir, displayRoot: config.displayRoot, version: version), config: config)
    }
}
