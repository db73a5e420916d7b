import CrescentCore
import Foundation

/// A `database = "postgres://…"` setting, split into what libpq reads and Crescent's own
/// options (which libpq would refuse):
///
/// - `schema` — the PostgreSQL schema Crescent's tables live in (default `crescent`);
/// - `pool_size` — connections each process keeps for its work (default 8, 1…100), besides
///   the one that listens for wake-ups;
/// - `pgbouncer=transaction` — behind PgBouncer in transaction mode: no LISTEN (idle runners
///   poll instead) and no server-side prepared statements.
///
/// Everything else (`sslmode`, `sslrootcert`, `connect_timeout`, `application_name`, …) is
/// libpq's own and passed through.
public struct PostgresURL: Sendable, Equatable {
    public var conninfo: String
    public var schema: String
    public var poolSize: Int
    public var pollOnly: Bool
    /// The URL without its password, for logs, `status` and the dashboard.
    public var display: String

    public static let defaultSchema = "crescent"
    public static let defaultPoolSize = 8

    /// Whether `database` names a PostgreSQL server rather than a SQLite file.
    public static func matches(_ database: String) -> Bool {
        let lower = database.lowercased()
        return lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://")
    }

    /// Parses `url`; a bad value is a config error naming it (without its password).
    public init(_ url: String) throws(CrescentError) {
        guard var parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
              scheme == "postgres" || scheme == "postgresql" else {
            throw CrescentError(.config, "database: \"\(Self.redact(url))\" is not a valid postgres:// URL", field: "database")
        }
        var schema = Self.defaultSchema
        var poolSize = Self.defaultPoolSize
        var pollOnly = false
        var passed: [URLQueryItem] = []
        var named = Set<String>()
        for item in parts.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "schema":
                guard Self.isIdentifier(value) else {
                    throw CrescentError(.config, "database: schema \"\(value)\" must be 1 to 63 lowercase letters, digits or _, not starting with a digit", field: "database")
                }
                schema = value
            case "pool_size":
                guard let n = Int(value), (1...100).contains(n) else {
                    throw CrescentError(.config, "database: pool_size \"\(value)\" must be a whole number from 1 to 100", field: "database")
                }
                poolSize = n
            case "pgbouncer":
                guard value == "transaction" else {
                    throw CrescentError(.config, "database: pgbouncer \"\(value)\" is not known; the one value is pgbouncer=transaction", field: "database")
                }
                pollOnly = true
            default:
                passed.append(item)
            }
            named.insert(item.name)
        }
        if !named.contains("connect_timeout") { passed.append(URLQueryItem(name: "connect_timeout", value: "5")) }
        if !named.contains("application_name") { passed.append(URLQueryItem(name: "application_name", value: "crescent")) }
        parts.scheme = "postgresql"
        parts.queryItems = passed
        guard let conninfo = parts.string else {
            throw CrescentError(.config, "database: \"\(Self.redact(url))\" is not a valid postgres:// URL", field: "database")
        }
        self.conninfo = conninfo
        self.schema = schema
        self.poolSize = poolSize
        self.pollOnly = pollOnly
        self.display = Self.redact(url)
    }

    /// `url` with its password (in the user part or a `password=` option) replaced by `***`.
    public static func redact(_ url: String) -> String {
        let base = redactUserinfo(url)
        guard let q = base.firstIndex(of: "?") else { return base }
        let options = base[base.index(after: q)...].split(separator: "&", omittingEmptySubsequences: false).map { item in
            item.lowercased().hasPrefix("password=") ? "password=***" : String(item)
        }
        return String(base[...q]) + options.joined(separator: "&")
    }

    private static func redactUserinfo(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@") else { return url }
        let userinfo = authority[..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= 63, !(48...57).contains(first) else { return false }
        return s.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == 95 }
    }
}
