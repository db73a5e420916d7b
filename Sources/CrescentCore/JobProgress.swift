import Foundation

/// What a handler last reported with `job:progress(done, total, note)`.
public struct JobProgress: Sendable, Equatable {
    /// Units done so far (finite, ≥ 0).
    public var done: Double
    /// Units in all, when known (finite, ≥ 0).
    public var total: Double?
    /// A short text (at most `maxNote` bytes of UTF-8).
    public var note: String?
    /// When the handler reported it.
    public var at: Date

    /// The longest note, in bytes of UTF-8.
    public static let maxNote = 200

    public init(done: Double, total: Double? = nil, note: String? = nil, at: Date = Date()) {
        self.done = done; self.total = total; self.note = note; self.at = at
    }

    /// `done / total` from 0 to 1, or nil without a (non-zero) total.
    public var fraction: Double? {
        guard let total, total > 0 else { return nil }
        return min(1, max(0, done / total))
    }

    /// Whole percent done (0–100), or nil without a total.
    public var percent: Int? { fraction.map { Int(($0 * 100).rounded(.down)) } }

    /// A number as JSON: an integer when it is one (and fits), else a float.
    static func number(_ d: Double) -> JSONValue {
        if d.rounded() == d, abs(d) < 9e15 { return .int(Int64(d)) }
        return .double(d)
    }

    /// `{done, total, note, at}` as the API and `--json` show it (`at` in ISO 8601).
    public func json() -> JSONValue {
        .object([
            "done": Self.number(done), "total": total.map(Self.number) ?? .null,
            "note": note.map(JSONValue.string) ?? .null, "at": .string(TimeText.format(at)),
        ])
    }

    /// The text a store keeps (`at` as epoch seconds).
    public func stored() -> String {
        JSONValue.object([
            "done": Self.number(done), "total": total.map(Self.number) ?? .null,
            "note": note.map(JSONValue.string) ?? .null, "at": .double(at.timeIntervalSince1970),
        ]).encoded()
    }

    /// Reads `stored()` text back; nil for NULL or text that is not a progress.
    public static func fromStored(_ text: String?) -> JobProgress? {
        guard let text, let v = try? JSONValue.decode(text), let done = v["done"]?.doubleValue,
              let at = v["at"]?.doubleValue else { return nil }
        return JobProgress(done: done, total: v["total"]?.doubleValue, note: v["note"]?.stringValue,
                           at: Date(timeIntervalSince1970: at))
    }

    /// `40/100 (40%) importing`, `40` without a total: for `crescent job` and `jobs`.
    public var summary: String {
        var s = Self.format(done)
        if let total { s += "/" + Self.format(total) }
        if let percent { s += " (\(percent)%)" }
        if let note, !note.isEmpty { s += " " + note }
        return s
    }

    /// A number without a needless fraction (`40`, `2.5`, `1e+300`).
    public static func format(_ d: Double) -> String {
        if d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }
}
