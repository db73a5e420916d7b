import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation

extension BenchCommand {
    /// The environment variable the benchmark's config reads a PostgreSQL URL from.
    static let databaseVariable = "CRESCENT_BENCH_DATABASE"

    /// `--database URL` with its `schema` option replaced by a fresh `bench_<random>` one,
    /// checked as a config's `database` would be.
    static func benchSchemaURL(_ url: String) throws(CrescentError) -> String {
        guard PostgresURL.matches(url) else {
            throw CrescentError.usage("--database must be a postgres:// URL (without it the benchmark uses a temporary SQLite file)")
        }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let schema = "bench_" + String((0..<10).map { _ in alphabet.randomElement()! })
        var base = url
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = String(base[..<hash])
        }
        var options: [Substring] = []
        if let question = base.firstIndex(of: "?") {
            options = base[base.index(after: question)...].split(separator: "&").filter { !$0.hasPrefix("schema=") && $0 != "schema" }
            base = String(base[..<question])
        }
        options.append(Substring("schema=" + schema))
        let result = base + "?" + options.joined(separator: "&") + fragment
        do {
            _ = try PostgresURL(result)
        } catch {
            var message = error.message
            if message.hasPrefix("database: ") { message.removeFirst("database: ".count) }
            if message.hasSuffix("is not a valid postgres:// URL") { message = "is not a valid postgres:// URL" }
            throw CrescentError.usage("--database: \(message)")
        }
        return result
    }

    /// Drops a PostgreSQL benchmark's schema (a SQLite one goes with its folder).
    static func dropSchema(of store: any JobStore) {
        guard let postgres = store as? PostgresJobStore else { return }
        do {
            try postgres.dropSchema()
        } catch {
            Output.error("warning: could not drop the benchmark's schema \(postgres.url.schema): \(error)")
        }
    }
}
