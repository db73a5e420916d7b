/// An error Crescent reports to a user: one clear sentence, plus where it came from.
///
/// `file`/`line` point at a config or task file when the error is about one; `field`
/// names the key or field at fault. `exitCode` follows SPEC §5: 1 for a failed
/// operation, 2 for usage and config errors.
public struct CrescentError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case usage          // bad CLI argument or config (exit 2)
        case config         // config file problem (exit 2)
        case task           // task file problem
        case notFound       // unknown job / task (exit 1)
        case failed         // an operation that failed (exit 1)
    }

    public var kind: Kind
    public var message: String
    public var file: String?
    public var line: Int?
    public var field: String?

    public init(_ kind: Kind, _ message: String, file: String? = nil, line: Int? = nil, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
        self.field = field
    }

    public static func usage(_ message: String) -> CrescentError { .init(.usage, message) }
    public static func failed(_ message: String) -> CrescentError { .init(.failed, message) }
    public static func notFound(_ message: String) -> CrescentError { .init(.notFound, message) }

    public var exitCode: Int32 {
        switch kind {
        case .usage, .config: return 2
        case .task, .notFound, .failed: return 1
        }
    }

    /// `file:line: message` when the location is known, else the message alone.
    public var description: String {
        switch (file, line) {
        case let (file?, line?): return "\(file):\(line): \(message)"
        case let (file?, nil): return "\(file): \(message)"
        default: return message
        }
    }
}
