import Foundation

/// A JSON value as Crescent stores and passes it: job args, results, store values.
///
/// Objects encode with sorted keys, so `encoded()` is canonical and can serve as a
/// uniqueness key. Integers stay integers (Lua 5.4 distinguishes them).
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Deepest nesting accepted when decoding; deeper input is refused with a clear error.
    public static let maxDepth = 200

    public static let emptyObject = JSONValue.object([:])

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9e18: return Int64(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    // MARK: encoding

    /// Canonical compact JSON text.
    public func encoded() -> String {
        var out = ""
        encode(into: &out)
        return out
    }

    public func encode(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN || d.isInfinite { out += "null" }
            else if d == d.rounded(), abs(d) < 1e15 { out += String(Int64(d)); if d == 0 && d.sign == .minus { } }
            else { out += "\(d)" }
        case .string(let s): JSONValue.encodeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.encode(into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, k) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONValue.encodeString(k, into: &out)
                out += ":"
                o[k]!.encode(into: &out)
            }
            out += "}"
        }
    }

    static func encodeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }

    // MARK: decoding

    /// Parses JSON text. Errors say what is wrong and at which byte offset.
    public static func decode(_ text: String) throws(CrescentError) -> JSONValue {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        if parser.pos != parser.bytes.count { throw parser.fail("unexpected text after the JSON value") }
        return value
    }

    struct Parser {
        let bytes: [UInt8]
        var pos = 0

        func fail(_ what: String) -> CrescentError {
            .usage("invalid JSON at offset \(pos): \(what)")
        }

        mutating func skipSpace() {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
        }

        mutating func literal(_ word: String, _ value: JSONValue) throws(CrescentError) -> JSONValue {
            let w = Array(word.utf8)
            guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else { throw fail("unexpected character") }
            pos += w.count
            return value
        }

        mutating func value(depth: Int) throws(CrescentError) -> JSONValue {
            guard depth < JSONValue.maxDepth else { throw .usage("invalid JSON: nested deeper than \(JSONValue.maxDepth) levels") }
            guard pos < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var obj: [String: JSONValue] = [:]
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
                while true {
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                    let key = try string()
                    skipSpace()
                    guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    pos += 1
                    skipSpace()
                    obj[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unexpected end of input") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                pos += 1
                var arr: [JSONValue] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
                while true {
                    skipSpace()
                    arr.append(try value(depth: depth + 1))
                    skipSpace()
                    guard pos < bytes.count else { throw fail("unexpected end of input") }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(arr) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default: return try number()
            }
        }

        mutating func number() throws(CrescentError) -> JSONValue {
            switch JSONNumberText.decode(bytes, pos: &pos) {
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .problem(let problem): throw fail(problem)
            }
        }

        mutating func string() throws(CrescentError) -> String {
            pos += 1  // opening quote
            var out = [UInt8]()
            if let problem = JSONStringText.decode(bytes, pos: &pos, into: &out) { throw fail(problem) }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
