import CrescentCore
import CrescentLua
import CrescentStore
import Foundation

/// What handlers reach through the Lua host APIs, backed by the store and the registry.
final class RuntimeHost: LuaHost, @unchecked Sendable {
    let store: JobStore
    let registry: TaskRegistry
    private let lock = NSLock()
    private var reserved: [Int64] = []
    /// The index in `reserved` of the next id to hand out.
    private var nextID = 0
    /// Ids reserved per round trip to the database for `queue.push`.
    let reserveBlock = 256

    init(store: JobStore, registry: TaskRegistry) {
        self.store = store
        self.registry = registry
    }

    func task(named name: String) -> TaskDefinition? { registry.task(named: name) }

    func storeGet(task: String, key: String) throws -> JSONValue? {
        guard let text = try store.storeGet(task: task, key: key) else { return nil }
        return try JSONValue.decode(text)
    }

    func storeGetText(task: String, key: String) throws -> String? {
        try store.storeGet(task: task, key: key)
    }

    func reserveJobID() throws -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        if nextID < reserved.count {
            defer { nextID += 1 }
            return reserved[nextID]
        }
        reserved = try store.jobReserveIDs(count: reserveBlock)
        nextID = 1
        return reserved[0]
    }

    func findActiveUnique(key: String, period: Double?) throws -> Int64? {
        try store.jobFindActiveUnique(key: key, period: period, now: Date())
    }

    /// Set by the runner before any job runs.
    var progressWriter: ProgressWriter?

    func reportProgress(jobID: Int64, attempt: Int, progress: JobProgress) {
        progressWriter?.report(jobID: jobID, attempt: attempt, progress: progress)
    }
}

/// For `crescent exec`: the real APIs, but nothing is written. Pushes get made-up ids, store
/// reads see the database when there is one.
public final class ExecHost: LuaHost, @unchecked Sendable {
    let store: JobStore?
    let registry: TaskRegistry
    private let lock = NSLock()
    private var nextID: Int64 = 1

    public init(store: JobStore?, registry: TaskRegistry) {
        self.store = store
        self.registry = registry
    }

    public func task(named name: String) -> TaskDefinition? { registry.task(named: name) }

    public func storeGet(task: String, key: String) throws -> JSONValue? {
        guard let text = try store?.storeGet(task: task, key: key) else { return nil }
        return try JSONValue.decode(text)
    }

    public func storeGetText(task: String, key: String) throws -> String? {
        try store?.storeGet(task: task, key: key)
    }

    public func reserveJobID() throws -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        defer { nextID += 1 }
        return nextID
    }

    public func findActiveUnique(key: String, period: Double?) throws -> Int64? {
        try store?.jobFindActiveUnique(key: key, period: period, now: Date())
    }
}
