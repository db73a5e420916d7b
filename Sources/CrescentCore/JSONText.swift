/// The body of a JSON string, escapes decoded: shared by the JSON parsers (`JSONValue` and
/// the Lua decoder that builds Lua values directly).
public enum JSONStringText {
    /// Reads from `pos` (just after the opening quote, or anywhere inside the string) to the
    /// closing quote, appending the decoded UTF-8 bytes to `out`; `pos` ends past the quote.
    /// Returns the problem, or nil; on a problem `pos` is where it was found.
    @inlinable
    public static func decode<Bytes: RandomAccessCollection>(_ bytes: Bytes, pos: inout Int, into out: inout [UInt8]) -> String?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        while true {
            guard pos < bytes.endIndex else { return "unterminated string" }
            let c = bytes[pos]
            pos += 1
            if c == UInt8(ascii: "\"") { return nil }
            if c < 0x20 { return "control character in string" }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard pos < bytes.endIndex else { return "unterminated string" }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(bytes, pos: &pos) else { return "bad \\u escape" }
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate pairs with a following low one; alone it is U+FFFD.
                    let save = pos
                    if pos + 1 < bytes.endIndex, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                        pos += 2
                        guard let low = hex4(bytes, pos: &pos) else { return "bad \\u escape" }
                        if low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            pos = save
                            scalar = 0xFFFD
                        }
                    } else {
                        scalar = 0xFFFD
                    }
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(Character(u)).utf8)
            default: return "bad escape"
            }
        }
    }

    /// Four hex digits at `pos` (advanced past them), or nil with `pos` unchanged.
    @inlinable
    static func hex4<Bytes: RandomAccessCollection>(_ bytes: Bytes, pos: inout Int) -> UInt32?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard pos + 4 <= bytes.endIndex else { return nil }
        var v: UInt32 = 0
        for i in 0..<4 {
            let c = bytes[pos + i]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt32(d)
        }
        pos += 4
        return v
    }
}

/// A JSON number as RFC 8259 writes it, `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`:
/// shared by the JSON parsers like `JSONStringText`.
public enum JSONNumberText {
    public enum Decoded: Equatable {
        case int(Int64)
        case double(Double)
        /// What is wrong, with `pos` where it was found.
        case problem(String)
    }

    /// Reads the number at `pos`, leaving `pos` past it. Integers that fit Int64 stay integers.
    @inlinable
    public static func decode<Bytes: RandomAccessCollection>(_ bytes: Bytes, pos: inout Int) -> Decoded
    where Bytes.Element == UInt8, Bytes.Index == Int {
        func isDigit(_ i: Int) -> Bool { i < bytes.endIndex && bytes[i] >= 0x30 && bytes[i] <= 0x39 }
        let start = pos
        var isInt = true
        if pos < bytes.endIndex, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        guard isDigit(pos) else { return .problem(pos > start ? "expected a digit after '-'" : "unexpected character") }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if isDigit(pos) { return .problem("numbers cannot have leading zeros") }
        } else {
            while isDigit(pos) { pos += 1 }
        }
        if pos < bytes.endIndex, bytes[pos] == UInt8(ascii: ".") {
            isInt = false
            pos += 1
            guard isDigit(pos) else { return .problem("expected a digit after '.'") }
            while isDigit(pos) { pos += 1 }
        }
        if pos < bytes.endIndex, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInt = false
            pos += 1
            if pos < bytes.endIndex, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(pos) else { return .problem("expected a digit in the exponent") }
            while isDigit(pos) { pos += 1 }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInt, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else { return .problem("number \(text) is out of range") }
        return .double(d)
    }
}
