import CrescentCore
import Foundation

/// The loaded tasks, versioned and swapped whole on reload.
///
/// A file that fails to load keeps its last good definition (SPEC §6): the registry merges
/// each new load over the previous one, file by file.
public final class TaskRegistry: @unchecked Sendable {
    public struct Snapshot: Sendable {
        public var version: Int
        public var tasks: [String: TaskDefinition]
        /// Files that failed to load in the latest version, with their errors.
        public var errors: [TaskLoadError]
        public var loadedAt: Date

        public var sortedTasks: [TaskDefinition] { tasks.values.sorted { $0.name < $1.name } }
    }

    private let lock = NSLock()
    private var snapshot = Snapshot(version: 0, tasks: [:], errors: [], loadedAt: Date())

    public init() {}

    public var current: Snapshot {
        lock.lock()
        defer { lock.unlock() }
        return snapshot
    }

    public func task(named name: String) -> TaskDefinition? {
        lock.lock()
        defer { lock.unlock() }
        return snapshot.tasks[name]
    }

    /// Installs a new load. Tasks from files that now fail keep their previous definition;
    /// tasks whose files are gone are dropped. Returns the new snapshot.
    @discardableResult
    public func install(definitions: [TaskDefinition], errors: [TaskLoadError], version: Int) -> Snapshot {
        lock.lock()
        defer { lock.unlock() }
        let failedFiles = Set(errors.map(\.file))
        var tasks: [String: TaskDefinition] = [:]
        for def in definitions { tasks[def.name] = def }
        for old in snapshot.tasks.values where failedFiles.contains(old.file) && tasks[old.name] == nil {
            tasks[old.name] = old
        }
        snapshot = Snapshot(version: version, tasks: tasks, errors: errors, loadedAt: Date())
        return snapshot
    }
}
