import CrescentCore
import Foundation
import Testing

/// Which store the integration tests run the binary on: SQLite (the default), or PostgreSQL
/// with `CRESCENT_TEST_STORE=postgres` and `CRESCENT_TEST_POSTGRES_URL=postgres://…` (a
/// database the tests may create schemas in). On PostgreSQL every `Project` gets a fresh
/// schema `it_<random>`: its `database = "jobs.db"` line becomes that URL.
enum TestStore {
    static let environment = ProcessInfo.processInfo.environment
    static let isPostgres = environment["CRESCENT_TEST_STORE"] == "postgres"
    static let isSQLite = !isPostgres
    /// The server URL given to the tests ("" when none), with or without a store pass on it.
    static let postgresURL = environment["CRESCENT_TEST_POSTGRES_URL"] ?? ""
    static let hasPostgres = !postgresURL.isEmpty

    /// `url` with `?schema=NAME` (or `&schema=NAME`) and any `extra` options added.
    static func url(_ base: String = postgresURL, schema: String, extra: String = "") -> String {
        base + (base.contains("?") ? "&" : "?") + "schema=\(schema)" + (extra.isEmpty ? "" : "&\(extra)")
    }

    /// A fresh schema name.
    static func newSchema(_ prefix: String = "it") -> String {
        "\(prefix)_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
    }

    /// `crescent.toml` text for this store: on PostgreSQL, `database = "jobs.db"` names `schema`.
    static func config(_ text: String, schema: String) -> String {
        guard isPostgres else { return text }
        return text.replacingOccurrences(of: "database = \"jobs.db\"", with: "database = \"\(url(schema: schema))\"")
    }
}

/// Runs SQL through `psql` on a PostgreSQL URL: rows unaligned, `|`-separated, as `sqlite3` prints them.
enum PSQL {
    /// psql's path (the postgresql-client package), or nil.
    static let path: String? = {
        let candidates = ["/usr/bin/psql"] + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .sorted().reversed().map { "/usr/lib/postgresql/\($0)/bin/psql" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    struct Output {
        var rows: [String]
        var errors: String
        var code: Int32
    }

    /// Runs `query` on `url` (its own options such as `schema` are stripped; `searchPath`
    /// becomes the search path). Never prompts for a password.
    static func run(_ url: String, _ query: String, searchPath: String? = nil) -> Output {
        guard let path else { return Output(rows: [], errors: "psql not found", code: -1) }
        let p = process(url, searchPath: searchPath, ["-v", "ON_ERROR_STOP=1", "-c", query])
        p.executableURL = URL(fileURLWithPath: path)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        let o = ReadAll(out), e = ReadAll(err)
        do { try p.run() } catch { return Output(rows: [], errors: "\(error)", code: -1) }
        p.waitUntilExit()
        return Output(rows: o.text().split(separator: "\n").map(String.init), errors: e.text(), code: p.terminationStatus)
    }

    /// A psql process (not started) on `url` without Crescent's own options, its search path
    /// `searchPath`: unaligned rows, no prompts, no ~/.psqlrc.
    static func process(_ url: String, searchPath: String?, _ args: [String]) -> Process {
        var parts = URLComponents(string: url)
        let own: Set<String> = ["schema", "pool_size", "pgbouncer"]
        let kept = (parts?.queryItems ?? []).filter { !own.contains($0.name) }
        parts?.queryItems = kept.isEmpty ? nil : kept
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path ?? "/usr/bin/psql")
        p.arguments = ["-X", "-q", "-A", "-t", "-d", parts?.string ?? url] + args
        var env = ProcessInfo.processInfo.environment
        env["PGCONNECT_TIMEOUT"] = "5"
        env["PGOPTIONS"] = searchPath.map { "-c search_path=\($0)" }
        p.environment = env
        return p
    }

    /// SQLite's dialect where the tests use it, in PostgreSQL's: `json_extract(col, '$.key')`.
    static func translate(_ query: String) -> String {
        var q = query
        while let r = q.range(of: #"json_extract\((\w+), '\$\.(\w+)'\)"#, options: .regularExpression) {
            let inner = q[r].dropFirst("json_extract(".count).dropLast()
            let parts = inner.split(separator: ",", maxSplits: 1)
            let column = parts[0]
            let key = parts[1].trimmingCharacters(in: .whitespaces).dropFirst(3).dropLast()
            q.replaceSubrange(r, with: "(\(column)::jsonb->>'\(key)')")
        }
        return q
    }
}

extension Project {
    /// Where the project's jobs live: the SQLite file, or the URL with its schema.
    var storeDescription: String { TestStore.isPostgres ? "schema \(schema)" : databasePath }

    /// Runs one SQL query on the project's store (the `sqlite3` shell on jobs.db, or `psql` in
    /// the project's schema) and returns its rows, `|`-separated. `json_extract(col, '$.key')`
    /// works on both.
    func sql(_ query: String) -> [String] {
        if TestStore.isSQLite { return sqliteRows(query) }
        let out = PSQL.run(TestStore.postgresURL, PSQL.translate(query), searchPath: schema)
        if !out.errors.isEmpty { print("psql: \(out.errors)") }
        return out.rows
    }

    /// Drops the project's PostgreSQL schema (nothing on SQLite: the folder goes with the project).
    func dropSchema() {
        guard TestStore.isPostgres else { return }
        _ = PSQL.run(TestStore.postgresURL, "DROP SCHEMA IF EXISTS \(schema) CASCADE")
    }
}

extension Project {
    /// "ok" when the store reads whole: SQLite's `PRAGMA integrity_check`; on PostgreSQL (whose
    /// pages are the server's to check) a full read of every Crescent table without an error.
    func integrityCheck() -> String {
        if TestStore.isSQLite { return sql("PRAGMA integrity_check").first ?? "" }
        let tables = ["jobs", "runs", "run_seconds", "schedules", "kv", "processes", "control"]
        let out = PSQL.run(TestStore.postgresURL, tables.map { "SELECT count(*) FROM \($0)" }.joined(separator: "; "), searchPath: schema)
        return out.code == 0 ? "ok" : out.errors
    }

    /// Bytes of live rows in the jobs and runs tables: SQLite's used pages (page_count −
    /// freelist_count, times page_size); PostgreSQL's row sizes.
    func liveDataBytes() -> Int {
        if TestStore.isSQLite {
            return (sqlInt("PRAGMA page_count") - sqlInt("PRAGMA freelist_count")) * sqlInt("PRAGMA page_size")
        }
        return sqlInt("SELECT (SELECT COALESCE(sum(pg_column_size(j.*)), 0) FROM jobs j) + (SELECT COALESCE(sum(pg_column_size(r.*)), 0) FROM runs r)")
    }
}

extension Project {
    /// Whether the project's store has been created: the SQLite file, or the PostgreSQL schema.
    var storeExists: Bool {
        if TestStore.isSQLite { return FileManager.default.fileExists(atPath: databasePath) }
        return PSQL.run(TestStore.postgresURL, "SELECT count(*) FROM pg_namespace WHERE nspname = '\(schema)'").rows == ["1"]
    }
}
