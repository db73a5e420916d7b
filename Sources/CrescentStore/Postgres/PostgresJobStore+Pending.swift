import CrescentCore
import Foundation

// Methods not yet written for PostgreSQL (each helper removes the ones it implements).
private func pending(_ name: String) -> CrescentError { .failed("PostgresJobStore.\(name) is not implemented yet") }

extension PostgresJobStore: JobStore {

}

extension PostgresJobStore {
    public var storeDescription: String { "postgres \(url.display)" }
    public func wakeToken() throws -> Int64 { wakeups?.token ?? 0 }
    public func onWakeup(_ handler: @escaping @Sendable () -> Void) { wakeups?.onWakeup(handler) }
}
