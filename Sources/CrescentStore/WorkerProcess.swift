import CrescentCore
import Foundation

/// A `run` process, registered while it lives.
public struct WorkerProcess: Sendable, Equatable {
    /// Unique per process start, e.g. `host:pid:random`.
    public var id: String
    public var host: String
    public var pid: Int32
    public var queues: [String]
    public var startedAt: Date
    public var heartbeatAt: Date
    /// Jobs running in it at its last heartbeat.
    public var busy: Int
    /// A digest of the task files it loaded last (`""` when unknown): runners of one
    /// deployment show the same value, a host still on other task files another.
    public var tasksVersion: String
    /// The Crescent version it runs (`""` when unknown).
    public var version: String
    /// Its job slots: its queues' concurrency summed, capped by `max_jobs` (0 when unknown).
    public var capacity: Int
    /// Its resident memory in bytes at its last heartbeat (nil when unknown).
    public var rssBytes: Int64?
    /// When another process found it lost and rescued its jobs (nil: alive). A lost row is
    /// kept for an hour to show what was rescued, then pruned; it is never counted as alive.
    public var lostAt: Date?
    /// How many running jobs were rescued from it, and the first `rescuedJobsKept` of their ids.
    public var rescuedCount: Int
    public var rescuedJobs: [Int64]
    public init(id: String, host: String, pid: Int32, queues: [String], startedAt: Date, heartbeatAt: Date, busy: Int = 0,
                tasksVersion: String = "", version: String = "", capacity: Int = 0, rssBytes: Int64? = nil,
                lostAt: Date? = nil, rescuedCount: Int = 0, rescuedJobs: [Int64] = []) {
        self.id = id; self.host = host; self.pid = pid; self.queues = queues
        self.startedAt = startedAt; self.heartbeatAt = heartbeatAt; self.busy = busy; self.tasksVersion = tasksVersion
        self.version = version; self.capacity = capacity; self.rssBytes = rssBytes
        self.lostAt = lostAt; self.rescuedCount = rescuedCount; self.rescuedJobs = rescuedJobs
    }

    /// How many rescued job ids a lost process's row keeps (the count goes on).
    public static let rescuedJobsKept = 100
    /// How long a lost process stays listed before the Pruner deletes its row.
    public static let lostRetention: Double = 3600
}

/// What a heartbeat writes to its process's row besides the heartbeat (`JobStore.leaseRenew`).
public struct ProcessBeat: Sendable, Equatable {
    public var busy: Int
    /// nil: left as it was.
    public var capacity: Int?
    public var rssBytes: Int64?
    public init(busy: Int, capacity: Int? = nil, rssBytes: Int64? = nil) {
        self.busy = busy; self.capacity = capacity; self.rssBytes = rssBytes
    }
}

/// The leases as one read saw them (`JobStore.leaseView`).
public struct LeaseView: Sendable, Equatable {
    /// Process id → its `heartbeat_at` as stored (an opaque value: only its changes count).
    public var heartbeats: [String: Double]
    /// Owners of running jobs (`""` for a running job without one).
    public var runningOwners: Set<String>
    public init(heartbeats: [String: Double], runningOwners: Set<String>) {
        self.heartbeats = heartbeats; self.runningOwners = runningOwners
    }
}

extension WorkerProcess {
    /// A lost row's rescued count and ids (JSON text) after `rescued` more: added to what it
    /// had when it was already lost (`previous`), started afresh otherwise; ids ascending,
    /// the first `rescuedJobsKept` kept.
    static func rescuedAfter(_ rescued: [Int64], previous: (count: Int, json: String)?) -> (count: Int, json: String) {
        let ids = previous.map { rescuedIDs($0.json) } ?? []
        let all = Set(ids + rescued).sorted().prefix(rescuedJobsKept)
        let json = JSONValue.array(all.map { JSONValue.int($0) }).encoded()
        return ((previous?.count ?? 0) + rescued.count, json)
    }

    /// Whether it is shown at `now`: alive, or lost less than `lostRetention` ago (a lost row
    /// older than that waits for a runner's Pruner to delete it).
    public func isListed(at now: Date) -> Bool {
        lostAt.map { now.timeIntervalSince($0) < Self.lostRetention } ?? true
    }

    /// The ids of a row's `rescued_jobs` text.
    static func rescuedIDs(_ json: String) -> [Int64] {
        guard case .array(let items)? = try? JSONValue.decode(json) else { return [] }
        return items.compactMap(\.intValue)
    }
}
