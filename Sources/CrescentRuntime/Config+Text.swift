import Foundation

// Checks on the config's text and address values that TOMLKit does not make.
extension Config {
    /// The first line with a table header whose name cannot start where it should (`[=`,
    /// `[`, `[ #`, `[é]`). Such a file is not valid TOML, but TOMLKit's parser asserts on it
    /// (aborting the process) instead of reporting an error, so it is refused here first.
    /// Lines inside multi-line strings are skipped.
    static func unparsableHeaderLine(_ text: String) -> Int? {
        var openDelimiter: Substring?
        // "\r\n" is one Character in Swift: split on it too.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (n, raw) in lines.enumerated() {
            let startsInsideString = openDelimiter != nil
            var rest = raw[...]
            while true {
                let triple = ["\"\"\"", "\'\'\'"].compactMap { d in rest.range(of: d).map { ($0, rest[$0]) } }
                    .filter { openDelimiter == nil || $0.1 == openDelimiter! }.min { $0.0.lowerBound < $1.0.lowerBound }
                guard let (range, delimiter) = triple else { break }
                openDelimiter = openDelimiter == nil ? delimiter : nil
                rest = rest[range.upperBound...]
            }
            if startsInsideString { continue }
            let line = raw.drop { $0.isWhitespace || $0 == "\u{FEFF}" }
            guard line.first == "[" else { continue }
            var name = line.dropFirst()
            if name.first == "[" { name = name.dropFirst() }
            name = name.drop { $0 == " " || $0 == "\t" }
            guard let first = name.first else { return n + 1 }
            if first == "]" || first == "\"" || first == "'" || first == "_" || first == "-" { continue }
            if first.isASCII && (first.isLetter || first.isNumber) { continue }
            return n + 1
        }
        return nil
    }

    /// `host:port` (`[::1]:7420`; an empty host is every address), or nil when not one.
    public static func listenAddress(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
