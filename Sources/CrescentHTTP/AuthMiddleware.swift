import Foundation
import Hummingbird

/// With a password configured, every route but `/healthz` needs it: HTTP Basic with any
/// user name, or `Authorization: Bearer <password>`. Refusals are 401 with
/// `WWW-Authenticate: Basic realm="crescent"` so browsers ask for it.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let password: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let password, request.uri.path != "/healthz" else {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization], Self.accepts(header, password: password) else {
            throw HTTPFailure.unauthorized
        }
        return try await next(request, context)
    }

    /// Whether an `Authorization` header value carries `password`.
    static func accepts(_ header: String, password: String) -> Bool {
        let parts = header.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { return false }
        let scheme = parts[0].lowercased()
        let credential = parts[1].trimmingCharacters(in: .whitespaces)
        switch scheme {
        case "bearer":
            return constantTimeEqual(Array(credential.utf8), Array(password.utf8))
        case "basic":
            guard let data = Data(base64Encoded: credential) else { return false }
            let bytes = [UInt8](data)
            // user:password — any user; the password is everything after the first colon.
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return false }
            return constantTimeEqual(Array(bytes[(colon + 1)...]), Array(password.utf8))
        default:
            return false
        }
    }
}

/// Refuses state-changing requests (anything but GET and HEAD) that a browser marks as
/// sent from another site: `Sec-Fetch-Site` other than `same-origin`/`none`, or an `Origin`
/// that is not this host. Browsers send stored Basic credentials along with cross-site form
/// posts, so without this a foreign page could enqueue or retry jobs. Clients such as curl
/// send neither header and pass.
struct SameOriginMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method != .get && request.method != .head {
            try HTTPServer.checkSameOrigin(request)
        }
        return try await next(request, context)
    }
}

/// Compares without an early exit, so the time taken does not tell how much matched.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(truncatingIfNeeded: a.count ^ b.count)
    diff |= UInt8(a.count != b.count ? 1 : 0)
    let n = max(a.count, b.count)
    for i in 0..<n {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        diff |= x ^ y
    }
    return diff == 0
}

/// Reading what a request sends: a size-limited body, form fields, query parameters.
enum RequestInput {
    /// The body as UTF-8 text, refused with 413 above `HTTPServer.maxBodySize`.
    static func body(_ request: Request) async throws -> String {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > HTTPServer.maxBodySize {
            throw HTTPFailure.tooLarge
        }
        let buffer = try await request.body.collect(upTo: HTTPServer.maxBodySize)
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw HTTPFailure.badRequest("request body is not valid UTF-8")
        }
        return text
    }

    /// `application/x-www-form-urlencoded` text (also a raw query string) as a map; a
    /// repeated name keeps its first value.
    static func form(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = decode(kv[0])
            let value = kv.count > 1 ? decode(kv[1]) : ""
            if out[name] == nil { out[name] = value }
        }
        return out
    }

    static func decode(_ s: Substring) -> String {
        let spaced = s.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }

    /// Query parameters of the request (form-decoded, `+` is a space).
    static func query(_ request: Request) -> [String: String] {
        form(request.uri.query ?? "")
    }

    /// Percent-encodes a query value.
    static func encode(_ s: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    /// `?a=1&b=2` from the non-empty pairs, in order; "" when none.
    static func queryString(_ pairs: [(String, String?)]) -> String {
        let parts = pairs.compactMap { name, value -> String? in
            guard let value, !value.isEmpty else { return nil }
            return "\(name)=\(encode(value))"
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }
}
