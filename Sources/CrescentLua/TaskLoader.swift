import CrescentCore
import Foundation
import Logging
import Synchronization

/// The tasks a snapshot defines, and the files that failed to load.
public struct TaskSet: Sendable {
    public var definitions: [TaskDefinition]
    public var errors: [TaskLoadError]
    /// Files whose load did not finish within the time limit (stuck in a C call); install
    /// the snapshot into other VMs with these marked (`TaskSnapshot.stalled`).
    public var stalled: Set<String>
    public init(definitions: [TaskDefinition], errors: [TaskLoadError], stalled: Set<String> = []) {
        self.definitions = definitions; self.errors = errors; self.stalled = stalled
    }
}

public enum TaskLoader {
    /// Loads each task file of the snapshot in a scratch VM (the sandbox, a time limit per
    /// file, chunks named `@tasks/<file>.lua` so errors carry file:line) and validates it.
    /// A broken file never stops the others; a name defined twice is an error for the
    /// second file.
    ///
    /// The count hook stops Lua code at the time limit, but not a C call (a pathological
    /// pattern in `string.find`), and a thread stuck in C cannot be stopped. So the VM runs on
    /// a thread of its own, watched from here: a file still running `stallGrace` after its
    /// limit is reported as "load did not finish within 1s", its thread is left behind (it
    /// owns its VM), and the load starts again on a fresh VM with that file marked stalled.
    /// The process remembers the file's text, so a reload of the same text never runs it again
    /// (one stuck thread per distinct text at most, until the process restarts).
    public static func load(_ snapshot: TaskSnapshot, config: LuaConfig) -> TaskSet {
        var snapshot = snapshot
        snapshot.stalled.formUnion(StalledFiles.known(in: snapshot))
        while true {
            switch loadWatched(snapshot, config: config) {
            case .done(var set):
                set.stalled = snapshot.stalled
                return set
            case .stalled(let file):
                StalledFiles.remember(file)
                snapshot.stalled.insert(file.displayPath)
            }
        }
    }

    /// How long past its time limit a load may stay in one file before it counts as stuck.
    public static let stallGrace = 0.5

    private enum Watched {
        case done(TaskSet)
        case stalled(TaskSnapshot.File)
    }

    private static func loadWatched(_ snapshot: TaskSnapshot, config: LuaConfig) -> Watched {
        let watch = LoadWatch()
        let thread = Thread {
            let set: TaskSet
            do {
                let vm = try LuaVM(config: config, host: nil,
                                   logger: Logger(label: "crescent.tasks", factory: { _ in SwiftLogNoOpLogHandler() }))
                vm.onFileStart = { watch.started($0) }
                let (definitions, errors) = vm.install(snapshot)
                set = TaskSet(definitions: definitions, errors: errors)
            } catch {
                set = TaskSet(definitions: [], errors: [TaskLoadError(file: "", line: nil, message: "\(error)")])
            }
            watch.finish(set)
        }
        thread.name = "crescent-load"
        thread.stackSize = 16 << 20
        thread.start()
        return watch.wait(limit: config.loadTimeLimit + stallGrace)
    }

    /// The loading thread's progress, watched by the caller.
    private final class LoadWatch: @unchecked Sendable {
        private let cond = NSCondition()
        private var file: TaskSnapshot.File?  // guarded by cond
        private var since = Date()            // guarded by cond
        private var result: TaskSet?          // guarded by cond

        func started(_ file: TaskSnapshot.File) {
            cond.lock()
            self.file = file
            since = Date()
            cond.unlock()
        }

        func finish(_ set: TaskSet) {
            cond.lock()
            result = set
            cond.signal()
            cond.unlock()
        }

        func wait(limit: Double) -> Watched {
            cond.lock()
            defer { cond.unlock() }
            while true {
                if let result { return .done(result) }
                if let file, Date().timeIntervalSince(since) > limit { return .stalled(file) }
                _ = cond.wait(until: Date().addingTimeInterval(0.05))
            }
        }
    }

    /// Task files (path and text) whose load got stuck in this process.
    private enum StalledFiles {
        private static let files = Mutex<Set<TaskSnapshot.File>>([])

        static func remember(_ file: TaskSnapshot.File) { _ = files.withLock { $0.insert(file) } }

        static func known(in snapshot: TaskSnapshot) -> Set<String> {
            files.withLock { known in Set(snapshot.files.filter { known.contains($0) }.map(\.displayPath)) }
        }
    }

    /// Reads the tasks dir of `config` and loads it.
    public static func load(config: LuaConfig, version: Int = 0) -> TaskSet {
        load(TaskSnapshot.read(tasksDir: config.tasksDir, displayRoot: config.displayRoot, version: version), config: config)
    }
}
