import CrescentCore
import Foundation

// Methods not yet written for PostgreSQL (each helper removes the ones it implements).
private func pending(_ name: String) -> CrescentError { .failed("PostgresJobStore.\(name) is not implemented yet") }

extension PostgresJobStore: JobStore {

    public func jobGet(id: Int64) throws -> Job? { throw pending(#function) }
    public func jobRuns(id: Int64) throws -> [JobRun] { throw pending(#function) }
    public func jobList(_ params: JobListParams) throws -> [Job] { throw pending(#function) }
    public func jobRetry(ids: [Int64]) throws -> [Int64] { throw pending(#function) }
    public func jobRetryAllDead() throws -> Int { throw pending(#function) }
    public func jobCancel(ids: [Int64]) throws -> [Int64] { throw pending(#function) }
    public func jobCancelRequested(worker: String) throws -> [Int64] { throw pending(#function) }
    public func jobCounts() throws -> [QueueStateCount] { throw pending(#function) }
    public func jobCount(_ params: JobListParams) throws -> Int { throw pending(#function) }
    public func jobQueueNames() throws -> [String] { throw pending(#function) }
    public func runsPerMinute(minutes: Int, now: Date) throws -> [RunMinute] { throw pending(#function) }
    public func ping() throws { throw pending(#function) }
    public func runCounts(since: Date) throws -> [RunOutcome: Int] { throw pending(#function) }
    public func oldestDue(now: Date) throws -> Date? { throw pending(#function) }
    public func nextDue(queues: [String]) throws -> Date? { throw pending(#function) }
    public func oldestDuePerQueue(now: Date) throws -> [String: Date] { throw pending(#function) }
    public func dueQueues(now: Date) throws -> [String] { throw pending(#function) }
    public func queuedTaskCounts() throws -> [String: Int] { throw pending(#function) }
    public func processRegister(_ process: WorkerProcess) throws { throw pending(#function) }
    public func leaseRenew(processID: String, busy: Int, now: Date) throws -> Bool { throw pending(#function) }
    public func processDeregister(id: String) throws { throw pending(#function) }
    public func processList() throws -> [WorkerProcess] { throw pending(#function) }
    public func leaseView() throws -> LeaseView { throw pending(#function) }
    public func jobRescue(stale: [String: Double?], retryAt: @Sendable (Job) -> Date?) throws -> [Int64] { throw pending(#function) }
    public func jobsOwned(worker: String) throws -> [Int64: Int] { throw pending(#function) }
    public func stopRequest(now: Date) throws { throw pending(#function) }
    public func stopRequested(since: Date) throws -> Bool { throw pending(#function) }
    public func jobPrune(state: JobState, before: Date, limit: Int) throws -> Int { throw pending(#function) }
}

extension PostgresJobStore {
    public var storeDescription: String { "postgres \(url.display)" }
    public func wakeToken() throws -> Int64 { wakeups?.token ?? 0 }
    public func onWakeup(_ handler: @escaping @Sendable () -> Void) { wakeups?.onWakeup(handler) }
}
