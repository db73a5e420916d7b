import CrescentCore
import CrescentStore
import Foundation

extension Config {
    /// Whether `database` names a PostgreSQL server (`postgres://…`) rather than a SQLite file.
    public var isPostgres: Bool { PostgresURL.matches(database) }

    /// `database` for logs and messages: a URL without its password.
    public var databaseDisplay: String { isPostgres ? PostgresURL.redact(database) : database }

    /// Opens the configured store: PostgreSQL for a `postgres://` URL, else the SQLite file
    /// (created with its schema on first use). PostgreSQL's start-up failures (server
    /// unreachable, password refused, database missing, a schema from a newer Crescent) are
    /// config errors (exit 2).
    public func openStore() throws(CrescentError) -> any JobStore {
        if isPostgres {
            let url = try PostgresURL(database)
            do {
                return try PostgresJobStore(url: url)
            } catch let error as CrescentError {
                throw error
            } catch {
                throw .failed("cannot open the database \(url.display): \(error)")
            }
        }
        do {
            return try SQLiteJobStore(path: database, durability: durability == .full ? .full : .normal)
        } catch {
            throw .failed("cannot open the database \(database): \(error)")
        }
    }
}

extension ConfigReader {
    /// `database`: a `postgres://` or `postgresql://` URL is kept as given (after `${VAR}`
    /// expansion) and checked now, so a bad one is a config error naming the line (never
    /// showing the password); anything else is a SQLite path, resolved against `base`.
    func database(_ value: String, base: URL) throws(CrescentError) -> String {
        guard PostgresURL.matches(value) else { return resolve(value, base).path }
        do {
            _ = try PostgresURL(value)
        } catch {
            var message = error.message
            if message.hasPrefix("database: ") { message.removeFirst("database: ".count) }
            if message.hasSuffix("is not a valid postgres:// URL") {
                // Not echoed: an unparsable URL may not show where its password ends.
                message = "is not a valid postgres:// URL (postgres://user:password@host:5432/database?schema=crescent); "
                    + "characters such as @ : / ? # % in the user name or password must be percent-encoded (%40 for @)"
            }
            throw fail("database", section: "", message)
        }
        return value
    }
}
