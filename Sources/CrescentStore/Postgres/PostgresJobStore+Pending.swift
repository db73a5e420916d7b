import CrescentCore
import Foundation

// Methods not yet written for PostgreSQL (each helper removes the ones it implements).
private func pending(_ name: String) -> CrescentError { .failed("PostgresJobStore.\(name) is not implemented yet") }

extension PostgresJobStore: JobStore {
    public func jobInsert(_ params: JobInsertParams) throws -> JobInsertResult { throw pending(#function) }
    public func jobInsertMany(_ params: [JobInsertParams]) throws -> [JobInsertResult] { throw pending(#function) }
    public func jobReserveIDs(count: Int) throws -> [Int64] { throw pending(#function) }
    public func jobFindActiveUnique(key: String, period: Double?, now: Date) throws -> Int64? { throw pending(#function) }
    public func jobClaim(_ params: JobClaimParams) throws -> [Job] { throw pending(#function) }
    public func jobCompleteMany(_ completions: [JobCompletion]) throws -> [Bool] { throw pending(#function) }
    public func jobCompleteAndClaim(_ completions: [JobCompletion], claims: [JobClaimParams],
                                    claimBudget: Int) throws -> (applied: [Bool], claimed: [[Job]], conflicts: [Int]) { throw pending(#function) }
    public func jobUnclaim(ids: [Int64], worker: String) throws { throw pending(#function) }
    public func scheduleLastFired(task: String) throws -> Date? { throw pending(#function) }
    public func scheduleFire(_ params: ScheduleFireParams) throws -> [JobInsertResult] { throw pending(#function) }
    public func scheduleClampLastFired(task: String, to: Date, ifAfter limit: Date) throws -> Bool { throw pending(#function) }
    public func scheduleRemovePending(task: String, after: Date) throws -> Int { throw pending(#function) }
    public func storeGet(task: String, key: String) throws -> String? { throw pending(#function) }
    public func storeApply(_ writes: [StoreWrite]) throws { throw pending(#function) }

}

extension PostgresJobStore {
    public var storeDescription: String { "postgres \(url.display)" }
    public func wakeToken() throws -> Int64 { wakeups?.token ?? 0 }
    public func onWakeup(_ handler: @escaping @Sendable () -> Void) { wakeups?.onWakeup(handler) }
}
