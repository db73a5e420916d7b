import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation

extension Config {
    /// The store for a read-only command (`status`, `jobs`, `job`, `tasks`): a SQLite file that
    /// does not exist is an error, not a new empty database next to a mistyped `--config`.
    func openExistingStore() throws(CrescentError) -> any JobStore {
        if !isPostgres, !FileManager.default.fileExists(atPath: database) {
            throw .failed("no database at \(database) (run `crescent run` first, or check --config)")
        }
        return try openStore()
    }
}
