import CrescentCore
import CrescentLua
import Foundation
import TOMLKit

/// `crescent.toml` (SPEC §1), every key optional, validated strictly: an unknown key, a wrong
/// type or a bad value is a `CrescentError` of kind `.config` naming the file, line and key.
public struct Config: Sendable {
    public struct Queue: Sendable, Equatable {
        public var name: String
        public var concurrency: Int
        public init(name: String, concurrency: Int) { self.name = name; self.concurrency = concurrency }
    }

    public enum Durability: String, Sendable { case normal, full }
    public enum LogFormat: String, Sendable { case json, text }

    /// The config file, or nil when running on defaults.
    public var file: URL?
    /// Relative paths resolve against this folder (the config file's).
    public var baseDir: URL
    /// A SQLite file's absolute path, or a `postgres://` URL as given (see `isPostgres`).
    public var database: String
    /// SQLite only; PostgreSQL's durability is the server's `synchronous_commit`.
    public var durability: Durability = .normal
    public var tasksDir: URL

    public var threads: Int = max(1, Foundation.ProcessInfo.processInfo.activeProcessorCount)
    public var memoryLimit: Int = 256 << 20
    public var lease: Double = 10
    public var shutdownTimeout: Double = 30
    /// `[workers] max_jobs`: at most this many jobs in flight in one process, all queues together.
    public var maxJobs: Int?

    /// In priority order. Always non-empty.
    public var queues: [Queue] = [Queue(name: "default", concurrency: 100)]

    public var httpListen: (host: String, port: Int)?
    public var httpPassword: String?

    public var maxConnectionsPerHost: Int = 256
    public var httpTimeout: Double = 30
    /// `[http_client] allow_hosts`: when set, the only hosts handlers may reach.
    public var httpAllowHosts: HTTPAllowList?

    public var logFormat: LogFormat = .json
    public var logLevel: String = "info"

    public var retentionSucceeded: Double = 86400
    public var retentionDead: Double = 30 * 86400

    public var env: [String: String] = [:]

    public init(baseDir: URL) {
        self.baseDir = baseDir
        self.database = baseDir.appendingPathComponent("crescent.db").path
        self.tasksDir = baseDir.appendingPathComponent("tasks")
    }

    /// Concurrency of a queue not declared in the config: the `default` queue's.
    public var defaultConcurrency: Int { queues.first { $0.name == "default" }?.concurrency ?? 100 }

    /// A name for the file in messages: as the user gave it.
    public var displayName: String { file?.path ?? "crescent.toml" }

    // MARK: loading

    /// Loads `path`, or `$CRESCENT_CONFIG`, or `./crescent.toml`. A missing file is an error
    /// only when it was named explicitly; otherwise the defaults apply with the current folder as base.
    public static func load(path: String?, environment: [String: String] = Foundation.ProcessInfo.processInfo.environment) throws(CrescentError) -> Config {
        let explicit = path ?? environment["CRESCENT_CONFIG"]
        let chosen = explicit ?? "crescent.toml"
        let url = URL(fileURLWithPath: chosen)
        guard FileManager.default.fileExists(atPath: url.path) else {
            if explicit != nil { throw CrescentError(.config, "config file \(chosen) does not exist") }
            return Config(baseDir: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        }
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw CrescentError(.config, "config file \(chosen) cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CrescentError(.config, "config file is not valid UTF-8", file: chosen)
        }
        return try parse(text, file: chosen, environment: environment)
    }

    /// Parses config text; `file` names it in errors and anchors relative paths.
    public static func parse(_ text: String, file: String, environment: [String: String]) throws(CrescentError) -> Config {
        let url = URL(fileURLWithPath: file).standardizedFileURL
        var config = Config(baseDir: url.deletingLastPathComponent())
        config.file = URL(fileURLWithPath: file)
        if let line = unparsableHeaderLine(text) {
            throw CrescentError(.config, "not valid TOML: a table header needs a key name after \"[\"", file: file, line: line)
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw CrescentError(.config, "not valid TOML: \(error.description)", file: file, line: error.source.begin.line)
        } catch {
            throw CrescentError(.config, "not valid TOML: \(error)", file: file)
        }
        var reader = ConfigReader(file: file, lines: text.components(separatedBy: "\n"), environment: environment)
        try reader.apply(table, to: &config)
        return config
    }
}

/// Walks the TOML tree, converting and checking each key, with the line for errors.
struct ConfigReader {
    let file: String
    let lines: [String]
    let environment: [String: String]

    func fail(_ key: String, section: String, index: Int = 0, _ message: String) -> CrescentError {
        let path = section.isEmpty ? key : "\(section).\(key)"
        return CrescentError(.config, "key \"\(path)\": \(message)", file: file, line: line(of: key, in: section, index: index), field: path)
    }

    /// Finds the line defining `key` in `[section]` (the `index`-th `[[section]]` for arrays).
    func line(of key: String, in section: String, index: Int = 0) -> Int? {
        var current = ""
        var seen = -1
        for (n, raw) in lines.enumerated() {
            let s = raw.trimmingCharacters(in: .whitespaces)
            if s.hasPrefix("[[") {
                current = s.dropFirst(2).prefix { $0 != "]" }.trimmingCharacters(in: .whitespaces)
                if current == section { seen += 1 }
                if key.isEmpty && current == section && seen == index { return n + 1 }
                continue
            }
            if s.hasPrefix("[") {
                current = s.dropFirst().prefix { $0 != "]" }.trimmingCharacters(in: .whitespaces)
                seen = 0
                if key.isEmpty && current == section { return n + 1 }
                continue
            }
            guard current == section, seen <= index || section.isEmpty || seen == index else { continue }
            let name = s.prefix { $0 != "=" }.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if name == key, s.contains("=") { return n + 1 }
            if section.isEmpty && key.isEmpty { return nil }
        }
        return nil
    }

    func string(_ v: TOMLValueConvertible, _ key: String, _ section: String, index: Int = 0) throws(CrescentError) -> String {
        guard v.type == .string, let s = v.string else { throw fail(key, section: section, index: index, "must be a string, not \(v.type)") }
        return try expand(s, key, section)
    }

    /// `${VAR}` expansion from the environment; an unset variable is an error.
    func expand(_ s: String, _ key: String, _ section: String) throws(CrescentError) -> String {
        guard s.contains("${") else { return s }
        var out = ""
        var rest = Substring(s)
        while let open = rest.range(of: "${") {
            out += rest[rest.startIndex..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw fail(key, section: section, "has an unterminated ${ in \"\(s)\"")
            }
            let name = String(rest[open.upperBound..<close])
            guard let value = environment[name] else {
                throw fail(key, section: section, "refers to ${\(name)}, which is not set in the environment")
            }
            out += value
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

    func int(_ v: TOMLValueConvertible, _ key: String, _ section: String, min: Int, max: Int, index: Int = 0) throws(CrescentError) -> Int {
        guard v.type == .int, let i = v.int else { throw fail(key, section: section, index: index, "must be an integer, not \(v.type)") }
        guard i >= min, i <= max else { throw fail(key, section: section, index: index, "must be from \(min) to \(max), got \(i)") }
        return i
    }

    /// `[workers] memory` per VM: at least 4 MiB (a VM with its libraries needs about 1 MiB), at most 1 TiB.
    static let memoryRange = (4 << 20)...(1 << 40)

    func duration(_ v: TOMLValueConvertible, _ key: String, _ section: String) throws(CrescentError) -> Double {
        switch v.type {
        case .int, .double:
            let seconds = v.double ?? Double(v.int ?? -1)
            guard seconds >= 0 else { throw fail(key, section: section, "must not be negative") }
            return seconds
        case .string:
            do { return try DurationText.parse(try expand(v.string ?? "", key, section)) } catch { throw fail(key, section: section, error.message) }
        default: throw fail(key, section: section, "must be a duration like \"30s\", not \(v.type)")
        }
    }

    func bytes(_ v: TOMLValueConvertible, _ key: String, _ section: String) throws(CrescentError) -> Int {
        let n = try parseBytes(v, key, section)
        guard ConfigReader.memoryRange.contains(n) else {
            throw fail(key, section: section, "must be from 4MB to 1TB, got \(n) bytes")
        }
        return n
    }

    func parseBytes(_ v: TOMLValueConvertible, _ key: String, _ section: String) throws(CrescentError) -> Int {
        if v.type == .int, let i = v.int, i > 0 { return i }
        guard v.type == .string, let s = v.string else { throw fail(key, section: section, "must be a size like \"256MB\"") }
        let t = s.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        for (unit, factor) in units where t.hasSuffix(unit) {
            if let n = Double(t.dropLast(unit.count).trimmingCharacters(in: .whitespaces)), n > 0 {
                // Int(exactly:) of a rounded, range-checked Double: "1e300GB" is refused, never trapped on.
                let bytes = (n * Double(factor)).rounded()
                return bytes < 9e18 ? Int(exactly: bytes) ?? Int.max : Int.max
            }
        }
        if let n = Int(t), n > 0 { return n }
        throw fail(key, section: section, "size \"\(s)\" is not valid (use e.g. \"64MB\", \"1GB\")")
    }

    func table(_ v: TOMLValueConvertible, _ key: String) throws(CrescentError) -> TOMLTable {
        guard v.type == .table, let t = v.table else { throw fail(key, section: "", "must be a table ([\(key)])") }
        return t
    }

    func unknown(_ key: String, _ section: String, allowed: [String], index: Int = 0) -> CrescentError {
        fail(key, section: section, index: index, "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
    }

    mutating func apply(_ root: TOMLTable, to c: inout Config) throws(CrescentError) {
        let top = ["database", "durability", "tasks", "workers", "queues", "http", "http_client", "log", "retention", "env"]
        for key in root.keys {
            guard let v = root[key] else { continue }
            switch key {
            case "database":
                c.database = try database(try string(v, key, ""), base: c.baseDir)
            case "durability":
                let s = try string(v, key, "")
                guard let d = Config.Durability(rawValue: s) else { throw fail(key, section: "", "must be \"normal\" or \"full\", not \"\(s)\"") }
                c.durability = d
            case "tasks":
                c.tasksDir = resolve(try string(v, key, ""), c.baseDir)
            case "workers":
                let t = try table(v, key)
                for k in t.keys {
                    let x = t[k]!
                    switch k {
                    case "threads": c.threads = try int(x, k, key, min: 1, max: 1024)
                    case "memory": c.memoryLimit = try bytes(x, k, key)
                    case "lease":
                        c.lease = try duration(x, k, key)
                        guard c.lease >= 1 else { throw fail(k, section: key, "must be at least 1s") }
                    case "shutdown_timeout": c.shutdownTimeout = try duration(x, k, key)
                    case "max_jobs": c.maxJobs = try int(x, k, key, min: 1, max: 1_000_000)
                    default: throw unknown(k, key, allowed: ["threads", "memory", "lease", "shutdown_timeout", "max_jobs"])
                    }
                }
            case "queues":
                guard v.type == .array, let arr = v.array else { throw fail(key, section: "", "must be an array of tables ([[queues]])") }
                var queues: [Config.Queue] = []
                for (i, item) in arr.enumerated() {
                    guard item.type == .table, let t = item.table else { throw fail(key, section: "", "entry \(i + 1) must be a table") }
                    var name: String?
                    var concurrency = 100
                    for k in t.keys {
                        let x = t[k]!
                        switch k {
                        case "name": name = try string(x, k, key, index: i)
                        case "concurrency": concurrency = try int(x, k, key, min: 1, max: 1_000_000, index: i)
                        default: throw unknown(k, key, allowed: ["name", "concurrency"], index: i)
                        }
                    }
                    guard let n = name, !n.isEmpty else {
                        throw CrescentError(.config, "[[queues]] entry \(i + 1) needs a name", file: file, line: line(of: "", in: key, index: i), field: "queues.name")
                    }
                    if queues.contains(where: { $0.name == n }) {
                        throw fail("name", section: key, index: i, "queue \"\(n)\" is declared twice")
                    }
                    queues.append(.init(name: n, concurrency: concurrency))
                }
                if !queues.isEmpty { c.queues = queues }
            case "http":
                let t = try table(v, key)
                var listen = "127.0.0.1:7420"
                for k in t.keys {
                    let x = t[k]!
                    switch k {
                    case "listen": listen = try string(x, k, key)
                    case "password":
                        let p = try string(x, k, key)
                        c.httpPassword = p.isEmpty ? nil : p
                    default: throw unknown(k, key, allowed: ["listen", "password"])
                    }
                }
                guard let address = Config.listenAddress(listen) else {
                    throw fail("listen", section: key, "must be host:port, e.g. \"127.0.0.1:7420\", not \"\(listen)\"")
                }
                c.httpListen = address
            case "http_client":
                let t = try table(v, key)
                for k in t.keys {
                    let x = t[k]!
                    switch k {
                    case "max_connections_per_host": c.maxConnectionsPerHost = try int(x, k, key, min: 1, max: 100_000)
                    case "timeout":
                        c.httpTimeout = try duration(x, k, key)
                        guard c.httpTimeout > 0 else { throw fail(k, section: key, "must be more than 0s") }
                    case "allow_hosts":
                        guard x.type == .array, let items = x.array else {
                            throw fail(k, section: key, "must be an array of host names, e.g. [\"api.example.org\", \"*.internal\"], not \(x.type)")
                        }
                        var patterns: [String] = []
                        for item in items {
                            guard item.type == .string, let s = item.string else {
                                throw fail(k, section: key, "entries must be strings, not \(item.type)")
                            }
                            patterns.append(s)
                        }
                        do { c.httpAllowHosts = try HTTPAllowList(patterns) } catch { throw fail(k, section: key, error.message) }
                    default: throw unknown(k, key, allowed: ["max_connections_per_host", "timeout", "allow_hosts"])
                    }
                }
            case "log":
                let t = try table(v, key)
                for k in t.keys {
                    let x = t[k]!
                    switch k {
                    case "format":
                        let s = try string(x, k, key)
                        guard let f = Config.LogFormat(rawValue: s) else { throw fail(k, section: key, "must be \"json\" or \"text\", not \"\(s)\"") }
                        c.logFormat = f
                    case "level":
                        let s = try string(x, k, key)
                        guard ["trace", "debug", "info", "warn", "error"].contains(s) else {
                            throw fail(k, section: key, "must be one of trace, debug, info, warn, error, not \"\(s)\"")
                        }
                        c.logLevel = s
                    default: throw unknown(k, key, allowed: ["format", "level"])
                    }
                }
            case "retention":
                let t = try table(v, key)
                for k in t.keys {
                    let x = t[k]!
                    switch k {
                    case "succeeded": c.retentionSucceeded = try duration(x, k, key)
                    case "dead": c.retentionDead = try duration(x, k, key)
                    default: throw unknown(k, key, allowed: ["succeeded", "dead"])
                    }
                }
            case "env":
                let t = try table(v, key)
                for k in t.keys {
                    let x = t[k]!
                    switch x.type {
                    case .string: c.env[k] = try string(x, k, key)
                    case .int: c.env[k] = String(x.int!)
                    case .double: c.env[k] = String(x.double!)
                    case .bool: c.env[k] = String(x.bool!)
                    default: throw fail(k, section: key, "must be a string, number or boolean, not \(x.type)")
                    }
                }
            default:
                throw unknown(key, "", allowed: top)
            }
        }
        if let listen = c.httpListen, c.httpPassword == nil, !Config.isLoopback(listen.host) {
            throw fail("listen", section: "http", "\(listen.host) is not a loopback address, so [http] needs a password")
        }
    }

    func resolve(_ path: String, _ base: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path).standardizedFileURL
    }
}
