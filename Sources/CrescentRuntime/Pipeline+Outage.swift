import CrescentCore
import CrescentStore
import Foundation
import Logging

extension Pipeline {
    /// After a cycle whose claims may have committed although the store reported a failure (a
    /// PostgreSQL connection lost during COMMIT): jobs the store shows running under this
    /// process that no worker here has are handed back (`jobUnclaim`: queued again, the
    /// attempt not counted). Left for a later cycle while claimed jobs are still being handed
    /// to the workers, or while the store cannot be read. Only this thread claims, so once
    /// nothing is being handed, every job this process really started is in `running`.
    func reconcileClaims() {
        guard cond.withLock({ handing == 0 && !stopping }) else { return }
        let owned: [Int64: Int]
        do { owned = try store.jobsOwned(worker: processID) } catch { return }
        let unknown = cond.withLock { owned.keys.filter { running[$0] == nil }.sorted() }
        if !unknown.isEmpty {
            do {
                try store.jobUnclaim(ids: unknown, worker: processID)
            } catch {
                return
            }
            logger.warning("handed back jobs whose claim committed although the store reported a failure", metadata: [
                "count": .stringConvertible(unknown.count), "job.ids": "\(unknown.map(String.init).joined(separator: ","))",
            ])
        }
        claimsUncertain = false
    }
}
