import CrescentCore
import Foundation
import GRDB

extension SQLiteJobStore {
    public func jobProgressUpdate(_ updates: [JobProgressUpdate]) throws -> Int {
        if updates.isEmpty { return 0 }
        return try write { db in
            let update = try db.cachedStatement(sql: """
                UPDATE jobs SET progress = ? WHERE id = ? AND state = 'running' AND attempt = ? AND lease_owner IS ?
                """)
            var applied = 0
            for u in updates {
                try update.execute(arguments: [u.progress.stored(), u.jobID, u.attempt, u.worker])
                applied += db.changesCount
            }
            return applied
        }
    }
}
