import Foundation

/// `[http_client] allow_hosts`: the hosts handlers may reach with `http`.
///
/// Entries are host names (`api.example.org`), wildcards (`*.internal` matches any name
/// ending in `.internal`, not `internal` itself), IP addresses (`10.0.0.5`, `::1`) and CIDR
/// ranges (`10.0.0.0/8`, `fd00::/8`). A URL whose host is a name must match a name or
/// wildcard entry; a URL whose host is an IP literal must lie in an address or range entry
/// (names never match IP literals). Before connecting, a name is resolved and every address
/// it resolves to must be either public or listed: loopback, private, link-local (cloud
/// metadata), shared, multicast and unspecified addresses are refused unless an address or
/// range entry covers them, so a listed name cannot be pointed at internal services.
public struct HTTPAllowList: Sendable, Equatable {
    enum Entry: Sendable, Equatable {
        case name(String)
        case suffix(String)
        case network(IPNetwork)
    }

    let entries: [Entry]

    /// Parses the entries; a malformed one throws a message naming it.
    public init(_ patterns: [String]) throws(HTTPAllowListError) {
        var entries: [Entry] = []
        for raw in patterns {
            let p = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if let network = IPNetwork(p) {
                entries.append(.network(network))
            } else if p.hasPrefix("*."), Self.isHostName(String(p.dropFirst(2))) {
                entries.append(.suffix(String(p.dropFirst(1))))
            } else if Self.isHostName(p), IPAddress(p) == nil {
                entries.append(.name(p.hasSuffix(".") ? String(p.dropLast()) : p))
            } else {
                throw HTTPAllowListError(entry: raw)
            }
        }
        self.entries = entries
    }

    /// Whether a URL's host (a name or an IP literal, brackets allowed) may be reached.
    public func allowsHost(_ host: String) -> Bool {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if let address = IPAddress(h) { return covers(address) }
        if h.hasSuffix(".") { h.removeLast() }
        return entries.contains { entry in
            switch entry {
            case .name(let n): return h == n
            case .suffix(let s): return h.hasSuffix(s) && h.count > s.count
            case .network: return false
            }
        }
    }

    /// Whether an address a listed name resolved to may be connected to.
    public func allowsResolved(_ address: IPAddress) -> Bool {
        covers(address) || !address.isSpecialPurpose
    }

    func covers(_ address: IPAddress) -> Bool {
        entries.contains { if case .network(let n) = $0 { return n.contains(address) } else { return false } }
    }

    static func isHostName(_ s: String) -> Bool {
        let labels = (s.hasSuffix(".") ? String(s.dropLast()) : s).split(separator: ".", omittingEmptySubsequences: false)
        guard !s.isEmpty, s.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_") }
        }
    }
}

public struct HTTPAllowListError: Error, Sendable {
    public let entry: String
    public var message: String {
        "\"\(entry)\" is not a host name, a \"*.domain\" wildcard, an IP address or a CIDR range"
    }
}

/// An IPv4 or IPv6 address as bytes; an IPv4-mapped IPv6 address is kept as IPv4.
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
        } else {
            return nil
        }
    }

    init(bytes: [UInt8]) {
        if bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff {
            self.bytes = Array(bytes[12...])
        } else {
            self.bytes = bytes
        }
    }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
        return String(cString: buffer)
    }

    static let specialRanges: [IPNetwork] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8",
    ].compactMap { IPNetwork($0) }

    /// Loopback, private, link-local, shared, multicast, reserved or unspecified.
    public var isSpecialPurpose: Bool { Self.specialRanges.contains { $0.contains(self) } }
}

/// An address with a prefix length (`10.0.0.0/8`); a bare address is a full-length prefix.
public struct IPNetwork: Sendable, Equatable {
    let base: IPAddress
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let bits = address.bytes.count * 8
        var prefix = bits
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...128).contains(p) else { return nil }
            // An IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) is stored as IPv4.
            prefix = address.bytes.count == 4 && text.contains(":") ? p - 96 : p
            guard (0...bits).contains(prefix) else { return nil }
        }
        self.base = address
        self.prefix = prefix
    }

    func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == base.bytes.count else { return false }
        var left = prefix
        for (a, b) in zip(address.bytes, base.bytes) where left > 0 {
            let n = min(8, left)
            let mask = UInt8(truncatingIfNeeded: 0xff << (8 - n))
            if a & mask != b & mask { return false }
            left -= n
        }
        return true
    }
}
