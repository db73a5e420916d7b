import CrescentCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// An error answered to an HTTP client: a status and one clear sentence.
struct HTTPFailure: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status; self.message = message; self.headers = headers
    }

    static func badRequest(_ message: String) -> HTTPFailure { .init(.badRequest, message) }
    static func notFound(_ message: String) -> HTTPFailure { .init(.notFound, message) }
    static func conflict(_ message: String) -> HTTPFailure { .init(.conflict, message) }
    static func forbidden(_ message: String) -> HTTPFailure { .init(.forbidden, message) }
    static var unauthorized: HTTPFailure {
        .init(.unauthorized, "authentication required", headers: [.wwwAuthenticate: "Basic realm=\"crescent\""])
    }
    static var tooLarge: HTTPFailure {
        .init(.contentTooLarge, "request body is larger than \(HTTPServer.maxBodySize) bytes")
    }

    /// The one mapping from any error to status and message.
    static func from(_ error: any Error) -> HTTPFailure {
        switch error {
        case let e as HTTPFailure:
            return e
        case let e as CrescentError:
            switch e.kind {
            case .usage, .config, .task: return .init(.badRequest, e.description)
            case .notFound: return .init(.notFound, e.message)
            case .failed: return .init(.internalServerError, e.message)
            }
        case is NIOTooManyBytesError:
            return .tooLarge
        case let e as HTTPError:
            let message = e.body ?? e.status.reasonPhrase
            return .init(e.status, e.status == .notFound ? "no such route" : message, headers: e.headers)
        default:
            return .init(.internalServerError, "internal error: \(error)")
        }
    }
}

/// Maps every error thrown below it (routes, auth, body limits, unknown routes) to a
/// response, in one place: `{"error": "..."}` for the API and other machine routes, a small
/// HTML page for dashboard pages asked for by a browser.
///
/// Every response also gets `X-Content-Type-Options: nosniff`, and a path that exists for other
/// methods answers 405 with an `Allow` header instead of 404.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    var routes = RouteMethods()

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = await respond(request, context: context, next: next)
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return response
    }

    private func respond(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async -> Response {
        do {
            return try await next(request, context)
        } catch {
            var failure = HTTPFailure.from(error)
            if let e = error as? HTTPError, e.status == .notFound {
                let allowed = routes.methods(for: request.uri.path)
                if !allowed.isEmpty, !allowed.contains(request.method.rawValue) {
                    failure = .init(.methodNotAllowed, "\(request.method.rawValue) is not allowed here (allowed: \(allowed.joined(separator: ", ")))")
                    failure.headers[.allow] = allowed.joined(separator: ", ")
                }
            }
            if failure.status.code >= 500 {
                context.logger.error("http request failed", metadata: ["path": "\(request.uri.path)", "error": "\(failure.message)"])
            }
            return Self.response(for: failure, request: request)
        }
    }

    static func wantsHTML(_ request: Request) -> Bool {
        let path = request.uri.path
        if path.hasPrefix("/api/") || path == "/api" || path == "/metrics" || path == "/healthz" { return false }
        return request.headers[.accept]?.contains("text/html") ?? false
    }

    static func response(for failure: HTTPFailure, request: Request) -> Response {
        var headers = failure.headers
        let body: String
        if wantsHTML(request) {
            headers[.contentType] = "text/html; charset=utf-8"
            body = Dashboard.errorPage(status: Int(failure.status.code), reason: failure.status.reasonPhrase, message: failure.message)
        } else {
            headers[.contentType] = "application/json; charset=utf-8"
            body = JSONValue.object(["error": .string(failure.message)]).encoded() + "\n"
        }
        return Response(status: failure.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

extension Response {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: value.encoded() + "\n")))
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func html(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"]
        headers[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'"
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(to location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }
}

/// The router's paths and their methods, filled in once the routes are added, so an unknown
/// method on a known path can be told from an unknown path.
final class RouteMethods: Sendable {
    private let table = Mutex<[(method: String, path: [Substring])]>([])

    func set<Context>(from router: Router<Context>) {
        table.withLock { $0 = router.routes.map { ($0.method.rawValue, "\($0.path)".split(separator: "/")) } }
    }

    /// The methods routed for `path`, sorted (HEAD with GET). As in the router, a literal
    /// segment wins over a parameter: `/api/jobs/bulk` is the bulk route's path only, not
    /// also `/api/jobs/{id}`'s.
    func methods(for path: String) -> [String] {
        let parts = path.split(separator: "/")
        var best: [Bool] = []
        var found = Set<String>()
        for route in table.withLock({ $0 }) where route.path.count == parts.count {
            let matches = zip(route.path, parts).allSatisfy { pattern, part in
                pattern == part || pattern.hasPrefix("{") || pattern.hasPrefix(":") || pattern == "*"
            }
            guard matches else { continue }
            let literal = zip(route.path, parts).map { pattern, part in pattern == part }
            if found.isEmpty || Self.moreLiteral(literal, than: best) { best = literal; found = [] }
            guard literal == best else { continue }
            found.insert(route.method)
            if route.method == "GET" { found.insert("HEAD") }
        }
        return found.sorted()
    }

    /// Whether `a` has a literal segment where `b` first has a parameter.
    static func moreLiteral(_ a: [Bool], than b: [Bool]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x }
        return false
    }
}
