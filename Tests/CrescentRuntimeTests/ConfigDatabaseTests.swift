import CrescentCore
import CrescentStore
import Foundation
import Testing

@testable import CrescentRuntime

/// `database`: a `postgres://` URL is kept (and checked at load), a path keeps SQLite.
@Suite struct ConfigDatabaseTests {
    func parse(_ text: String, env: [String: String] = [:]) throws(CrescentError) -> Config {
        try Config.parse(text, file: "/srv/app/crescent.toml", environment: env)
    }

    func error(_ text: String, env: [String: String] = [:]) -> CrescentError? {
        do { _ = try parse(text, env: env); return nil } catch { return error }
    }

    @Test func aURLIsKeptAsGivenAfterExpansion() throws {
        let c = try parse("""
            durability = "full"
            database = "postgres://crescent:${PGPASSWORD}@db.internal:5432/app?schema=crescent"
            """, env: ["PGPASSWORD": "hunter2"])
        #expect(c.database == "postgres://crescent:hunter2@db.internal:5432/app?schema=crescent")
        #expect(c.isPostgres)
        #expect(c.databaseDisplay == "postgres://crescent:***@db.internal:5432/app?schema=crescent")
        // `durability` is SQLite's; with PostgreSQL it is the server's synchronous_commit.
        #expect(c.durability == .full)
        let spaced = try parse(#"database = "postgres://crescent:hun ter2@db/app""#)
        #expect(spaced.databaseDisplay == "postgres://crescent:***@db/app")
        let upper = try parse(#"database = "PostgreSQL://u@localhost/app""#)
        #expect(upper.database == "PostgreSQL://u@localhost/app")
        #expect(upper.isPostgres)
    }

    @Test func aPathKeepsSQLite() throws {
        let c = try parse(#"database = "data/postgres.db""#)
        #expect(c.database == "/srv/app/data/postgres.db")
        #expect(!c.isPostgres)
        #expect(c.databaseDisplay == "/srv/app/data/postgres.db")
    }

    @Test(arguments: [
        ("postgres://crescent:hunter2@db/app?schema=Bad-Name", "schema"),
        ("postgres://crescent:hunter2@db/app?pool_size=0", "pool_size"),
        ("postgres://crescent:hunter2@db/app?pgbouncer=session", "pgbouncer"),
        // Unparsable as a URL: a "/" in the password (not percent-encoded).
        ("postgres://crescent:hun/ter2@db/app", "not a valid postgres:// URL"),
    ])
    func aBadURLIsAConfigErrorWithoutThePassword(url: String, mentions: String) throws {
        let e = try #require(error("database = \"\(url)\"\n"))
        #expect(e.kind == .config)
        #expect(e.exitCode == 2)
        #expect(e.field == "database")
        #expect(e.line == 1)
        #expect(e.description.hasPrefix("/srv/app/crescent.toml:1: key \"database\": "), "\(e.description)")
        #expect(e.message.contains(mentions), "\(e.message)")
        for secret in ["hunter2", "hun/ter2", "hun ter2", "ter2"] {
            #expect(!e.description.contains(secret), "\(e.description)")
        }
    }

    @Test func theLineOfTheKeyIsNamed() {
        let bad = error("tasks = \"jobs\"\n# the shared database\ndatabase = \"postgres://u:pw@db/app?pool_size=500\"\n")
        #expect(bad?.line == 3)
        #expect(bad?.message.contains("pool_size \"500\"") == true)
        #expect(bad?.message.contains("pw@") == false)
    }

    /// A server that cannot be reached is a config error at open (exit 2), naming the database
    /// without its password.
    @Test func anUnreachableServerIsAConfigErrorAtOpen() throws {
        var c = Config(baseDir: URL(fileURLWithPath: "/tmp"))
        c.database = "postgres://crescent:hunter2@127.0.0.1:1/app?schema=nothing_here&connect_timeout=2"
        do {
            _ = try c.openStore()
            Issue.record("opened a store on a closed port")
        } catch {
            #expect(error.kind == .config)
            #expect(error.exitCode == 2)
            #expect(error.message.contains("postgres://crescent:***@127.0.0.1:1/app"), "\(error.message)")
            #expect(!error.description.contains("hunter2"), "\(error.description)")
        }
    }
}
