import AsyncHTTPClient
import CLua
import CLuaShim
import CrescentCore
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// `http.request{method, url, headers, body, json, timeout}` and the shorthands
/// `http.get/post/put/delete` (defined in the sandbox prelude over `request`).
///
/// The request runs on the process's shared `HTTPClient` while the job is suspended;
/// the response comes back as `{status, headers, body}` with `res:json()`. Header names
/// are lower-cased; repeated headers are joined with ", ". A table `body` (or `json`)
/// is sent as JSON with `content-type: application/json`. Network errors and timeouts
/// raise "METHOD URL failed: reason".
enum HTTPAPI {
    static let optionKeys = ["method", "url", "headers", "body", "json", "timeout"]

    struct Request: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: [UInt8]?
        var timeout: Double
    }

    struct Response: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
    }

    static func request(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("http.request")
        guard lua_type(L, 1) == LUA_TTABLE else { throw HostError("http.request expects a table of options") }
        try checkOptionKeys(L, 1, allowed: optionKeys, call: "http.request")
        var method = "GET"
        if luaGetField(L, 1, "method") != LUA_TNIL {
            guard let m = luaString(L, -1), !m.isEmpty else { throw HostError("http.request: method must be a string") }
            method = m.uppercased()
        }
        crescent_pop(L, 1)
        luaGetField(L, 1, "url")
        guard let url = luaString(L, -1), !url.isEmpty else { throw HostError("http.request: url must be a non-empty string") }
        crescent_pop(L, 1)
        if let refusal = refusal(url: url, allowHosts: vm.config.httpAllowHosts) {
            throw HostError("\(method) \(url) refused: \(refusal)")
        }
        var headers: [(String, String)] = []
        switch luaGetField(L, 1, "headers") {
        case LUA_TNIL: break
        case LUA_TTABLE:
            let h = lua_gettop(L)
            lua_pushnil(L)
            while lua_next(L, h) != 0 {
                guard let name = luaString(L, -2) else {
                    throw HostError("http.request: header names must be strings")
                }
                let t = lua_type(L, -1)
                guard t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TBOOLEAN else {
                    throw HostError("http.request: header \"\(name)\" must be a string")
                }
                headers.append((name, luaDescribe(L, -1)))
                crescent_pop(L, 1)
            }
        default: throw HostError("http.request: headers must be a table of name = value")
        }
        crescent_pop(L, 1)
        var body: [UInt8]? = nil
        var isJSON = false
        for key in ["body", "json"] {
            switch luaGetField(L, 1, key) {
            case LUA_TNIL: break
            case LUA_TSTRING where key == "body": body = luaBytes(L, -1)
            case LUA_TTABLE:
                do { body = Array(try LuaJSON.value(L, -1).encoded().utf8) } catch { throw HostError("http.request: \(key): \(error.message)") }
                isJSON = true
            default:
                throw HostError("http.request: \(key) must be \(key == "body" ? "a string or a table" : "a table")")
            }
            crescent_pop(L, 1)
        }
        if isJSON, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            headers.append(("content-type", "application/json"))
        }
        var timeout = vm.config.httpTimeout
        if luaGetField(L, 1, "timeout") != LUA_TNIL {
            timeout = try durationArgument(L, -1, "http.request: timeout")
        }
        crescent_pop(L, 1)
        try vm.checkYieldable(L, attempt, "http.request")
        vm.waiter?.waitHTTP(attempt, request: Request(method: method, url: url, headers: headers, body: body, timeout: timeout))
        return CRESCENT_YIELD
    }

    /// Pushes `status, headers, body` onto a resumed coroutine.
    static func push(_ L: LuaState, _ response: Response) -> Int32 {
        lua_pushinteger(L, lua_Integer(response.status))
        var merged: [String: String] = [:]
        var order: [String] = []
        for (name, value) in response.headers {
            let n = name.lowercased()
            if let old = merged[n] { merged[n] = old + ", " + value } else { merged[n] = value; order.append(n) }
        }
        lua_createtable(L, 0, Int32(clamping: order.count))
        for n in order {
            luaPush(L, merged[n]!)
            luaSetField(L, -2, n)
        }
        luaPush(L, bytes: response.body)
        return 3
    }

    // MARK: what handlers may reach

    /// Why a URL may not be requested, or nil: only `http` and `https` URLs are allowed (no
    /// Unix sockets, no files), and with an allow-list only the hosts it names.
    static func refusal(url: String, allowHosts: HTTPAllowList?) -> String? {
        let scheme = url.prefix { $0 != ":" }
        guard scheme.count < url.count, ["http", "https"].contains(scheme.lowercased()) else {
            let shown = scheme.count < url.count && scheme.count <= 40 ? "\"\(scheme):\"" : "a URL without a scheme"
            return "only http:// and https:// URLs are allowed, not \(shown)"
        }
        guard let parsed = URL(string: url), let host = parsed.host, !host.isEmpty else { return "invalid URL" }
        if let allowHosts, !allowHosts.allowsHost(host) {
            return "host \(host) is not in [http_client] allow_hosts"
        }
        return nil
    }

    /// With an allow-list, resolves a URL's host name before connecting and returns why it
    /// may not be reached (it resolves to nothing, or to an address the list does not allow).
    static func resolvedRefusal(url: String, allowHosts: HTTPAllowList) -> String? {
        guard let parsed = URL(string: url), var host = parsed.host else { return "invalid URL" }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if IPAddress(host) != nil { return nil }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return "cannot resolve \(host)" }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let sa = n.pointee.ai_addr {
                if n.pointee.ai_family == AF_INET {
                    sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                        var a = p.pointee.sin_addr
                        addresses.append(IPAddress(bytes: withUnsafeBytes(of: &a) { Array($0) }))
                    }
                } else if n.pointee.ai_family == AF_INET6 {
                    sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                        var a = p.pointee.sin6_addr
                        addresses.append(IPAddress(bytes: withUnsafeBytes(of: &a) { Array($0) }))
                    }
                }
            }
            node = n.pointee.ai_next
        }
        if addresses.isEmpty { return "cannot resolve \(host)" }
        if let outside = addresses.first(where: { !allowHosts.allowsResolved($0) }) {
            return "\(host) resolves to \(outside), which is not in [http_client] allow_hosts"
        }
        return nil
    }

    // MARK: running requests

    /// The process's HTTP clients: one following redirects, one not (used with an allow-list,
    /// so a redirect cannot lead to a host outside it; the handler sees the 3xx response).
    private static let shared = Mutex<[Bool: HTTPClient]>([:])

    /// The process's HTTP client (created with the first caller's settings).
    static func client(maxConnectionsPerHost: Int, followRedirects: Bool = true) -> HTTPClient {
        shared.withLock { clients in
            if let client = clients[followRedirects] { return client }
            var configuration = HTTPClient.Configuration()
            if !followRedirects { configuration.redirectConfiguration = .disallow }
            configuration.connectionPool = .init(idleTimeout: .seconds(60),
                                                 concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, maxConnectionsPerHost))
            configuration.decompression = .enabled(limit: .ratio(100))
            // Failed connection attempts are retried with backoff until this timeout; a
            // refused connection is then reported within about a second.
            configuration.timeout.connect = .seconds(1)
            configuration.connectionPool.retryConnectionEstablishment = false
            // Connection attempts are retried with backoff, but a refused or unreachable host
            // fails the request after 3 s instead of the client's default 10 s; the job's own
            // retry policy takes it from there.
            configuration.timeout.connect = .seconds(3)
            let made = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
            clients[followRedirects] = made
            return made
        }
    }

    /// Runs a request; a response body larger than `maxBodySize` (the VM's memory cap) fails it.
    /// With an allow-list, the host name is resolved first (off the loop) and checked.
    static func execute(_ request: Request, maxConnectionsPerHost: Int, maxBodySize: Int, allowHosts: HTTPAllowList? = nil,
                        completion: @escaping @Sendable (Result<Response, HostError>) -> Void) {
        let what = "\(request.method) \(request.url)"
        if let refusal = refusal(url: request.url, allowHosts: allowHosts) {
            completion(.failure(HostError("\(what) refused: \(refusal)")))
            return
        }
        if let allowHosts {
            DispatchQueue.global().async {
                if let refusal = resolvedRefusal(url: request.url, allowHosts: allowHosts) {
                    completion(.failure(HostError("\(what) refused: \(refusal)")))
                } else {
                    send(request, maxConnectionsPerHost: maxConnectionsPerHost, maxBodySize: maxBodySize,
                         followRedirects: false, completion: completion)
                }
            }
            return
        }
        send(request, maxConnectionsPerHost: maxConnectionsPerHost, maxBodySize: maxBodySize, followRedirects: true, completion: completion)
    }

    private static func send(_ request: Request, maxConnectionsPerHost: Int, maxBodySize: Int, followRedirects: Bool,
                             completion: @escaping @Sendable (Result<Response, HostError>) -> Void) {
        let what = "\(request.method) \(request.url)"
        let prepared: HTTPClient.Request
        do {
            var headers = HTTPHeaders()
            for (k, v) in request.headers { headers.add(name: k, value: v) }
            prepared = try HTTPClient.Request(url: request.url, method: HTTPMethod(rawValue: request.method), headers: headers,
                                              body: request.body.map { .bytes($0) })
        } catch {
            completion(.failure(HostError("\(what) failed: \(describe(error, timeout: request.timeout))")))
            return
        }
        let deadline = NIODeadline.now() + .nanoseconds(Int64(min(request.timeout, 86400 * 365) * 1e9))
        let accumulator = ResponseAccumulator(request: prepared, maxBodySize: min(max(0, maxBodySize), Int(UInt32.max)))
        client(maxConnectionsPerHost: maxConnectionsPerHost, followRedirects: followRedirects)
            .execute(request: prepared, delegate: accumulator, deadline: deadline).futureResult.whenComplete { result in
            switch result {
            case .success(let response):
                var body: [UInt8] = []
                if var buffer = response.body { body = buffer.readBytes(length: buffer.readableBytes) ?? [] }
                let headers = response.headers.map { ($0.name, $0.value) }
                completion(.success(Response(status: Int(response.status.code), headers: headers, body: body)))
            case .failure(let error):
                completion(.failure(HostError("\(what) failed: \(describe(error, timeout: request.timeout))")))
            }
        }
    }

    static func describe(_ error: Error, timeout: Double) -> String {
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout || e == .writeTimeout {
                return "timed out after \(DurationText.format(timeout))"
            }
            if e == .invalidURL || e == .emptyHost || e == .emptyScheme { return "invalid URL" }
            if e == .unsupportedScheme("") { return "unsupported URL scheme" }
            if e == .remoteConnectionClosed { return "the server closed the connection" }
            return "\(e)"
        }
        if let e = error as? ResponseAccumulator.ResponseTooBigError {
            return "the response body is larger than \(e.maxBodySize) bytes"
        }
        if let e = error as? IOError {
            return String(cString: strerror(e.errnoCode)).lowercased()
        }
        let text = "\(error)"
        if text.contains("connectionRefused") || text.lowercased().contains("connection refused") { return "connection refused" }
        if text.lowercased().contains("timeout") || text.lowercased().contains("timed out") {
            return "timed out after \(DurationText.format(timeout))"
        }
        return text
    }
}
