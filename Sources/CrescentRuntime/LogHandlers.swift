import CrescentCore
import Foundation
import Logging

/// One JSON object per line: `ts`, `level`, `msg`, then the metadata (SPEC §1 `[log] format = "json"`).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let sink: LogSink

    public init(label: String, level: Logger.Level, sink: LogSink = .standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [
            "ts": .string(TimeText.format(Date())),
            "level": .string(event.level.shortName),
            "msg": .string(event.message.description),
        ]
        for (k, v) in metadata { fields[k] = v.json }
        for (k, v) in event.metadata ?? [:] { fields[k] = v.json }
        // Keep ts, level, msg first for people reading the lines.
        var line = "{\"ts\":" + fields.removeValue(forKey: "ts")!.encoded()
        line += ",\"level\":" + fields.removeValue(forKey: "level")!.encoded()
        line += ",\"msg\":" + fields.removeValue(forKey: "msg")!.encoded()
        for key in fields.keys.sorted() {
            line += ","
            JSONValue.string(key).encode(into: &line)
            line += ":" + fields[key]!.encoded()
        }
        sink.write(line + "}\n")
    }
}

/// `2026-11-23T08:00:00.000Z INFO  job finished job.id=12 task=sync`
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let sink: LogSink

    public init(label: String, level: Logger.Level, sink: LogSink = .standardError) {
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        for (k, v) in event.metadata ?? [:] { merged[k] = v }
        // Messages, keys and values are escaped (newlines, terminal escapes): a value cannot
        // forge a second log line. A value with a space, quote or `=` is quoted.
        var line = TimeText.format(Date()) + " " + event.level.shortName.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0) + " "
            + TerminalText.escaped(event.message.description)
        for key in merged.keys.sorted() {
            let value = TerminalText.escaped(merged[key]!.description)
            let quoted = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line += " \(TerminalText.escaped(key))=" + (quoted ? "\"" + value.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : value)
        }
        sink.write(line + "\n")
    }
}

/// Where log lines go; writes whole lines under a lock so lines never interleave.
public final class LogSink: @unchecked Sendable {
    private let lock = NSLock()
    private let write: (String) -> Void

    public init(_ write: @escaping (String) -> Void) { self.write = write }

    public static let standardError = LogSink { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        write(line)
    }
}

extension Logger.Level {
    /// Config spelling: trace, debug, info, warn, error.
    public init?(configName: String) {
        switch configName {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warning
        case "error": self = .error
        default: return nil
        }
    }

    var shortName: String {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "info"
        case .warning: return "warn"
        case .error: return "error"
        case .critical: return "error"
        }
    }

    /// `-v` raises one step, `-vv` two.
    public func raised(by steps: Int) -> Logger.Level {
        let order: [Logger.Level] = [.error, .warning, .info, .debug, .trace]
        let i = order.firstIndex(of: self == .notice ? .info : (self == .critical ? .error : self)) ?? 2
        return order[min(order.count - 1, i + max(0, steps))]
    }
}

extension Logger.MetadataValue {
    var json: JSONValue {
        switch self {
        case .string(let s): return .string(s)
        case .stringConvertible(let c):
            if let i = c as? any BinaryInteger { return .int(Int64(i)) }
            if let d = c as? Double { return .double(d) }
            if let b = c as? Bool { return .bool(b) }
            return .string(c.description)
        case .array(let a): return .array(a.map(\.json))
        case .dictionary(let d): return .object(d.mapValues(\.json))
        }
    }
}
