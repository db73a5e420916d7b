import CrescentCore
import CrescentStore
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
        /// The digest of the task files loaded (`TaskSnapshot.contentDigest`; `""` before a load).
        public var tasksVersion: String = ""

        public var sortedTasks: [TaskDefinition] { tasks.values.sorted { $0.name < $1.name } }
    }

    /// Where a runner records the definitions it runs, for other commands (kv namespace).
    static let persistedTask = "crescent:runner"
    static let persistedKey = "registry"

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
    public func install(definitions: [TaskDefinition], errors: [TaskLoadError], version: Int, tasksVersion: String = "") -> Snapshot {
        lock.lock()
        defer { lock.unlock() }
        let failedFiles = Set(errors.map(\.file))
        var tasks: [String: TaskDefinition] = [:]
        for def in definitions { tasks[def.name] = def }
        for old in snapshot.tasks.values where failedFiles.contains(old.file) && tasks[old.name] == nil {
            tasks[old.name] = old
        }
        snapshot = Snapshot(version: version, tasks: tasks, errors: errors, loadedAt: Date(), tasksVersion: tasksVersion)
        return snapshot
    }
}

extension TaskRegistry {
    /// The runner's view, written after each load so that `tasks`, `enqueue` and `status` in
    /// other processes see the last good version of a task whose file is broken now.
    public func persist(to store: JobStore) throws {
        let snap = current
        let doc = JSONValue.object([
            "version": .int(Int64(snap.version)),
            "tasks": .array(snap.sortedTasks.map { $0.json() }),
        ])
        try store.storeApply([StoreWrite(task: Self.persistedTask, key: Self.persistedKey, value: doc.encoded())])
    }

    /// The definitions last persisted by a runner (empty if none).
    public static func persisted(in store: JobStore) -> [TaskDefinition] {
        guard let text = try? store.storeGet(task: persistedTask, key: persistedKey),
              let doc = try? JSONValue.decode(text), case .array(let tasks)? = doc["tasks"] else { return [] }
        return tasks.compactMap(TaskDefinition.init(json:))
    }
}
