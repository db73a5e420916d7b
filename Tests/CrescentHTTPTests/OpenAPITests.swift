import CrescentCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import CrescentHTTP

@Suite struct OpenAPITests {
    static let docsFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.json")

    /// `METHOD /path` of every operation in the document.
    static func documented(_ doc: JSONValue) -> Set<String> {
        guard case .object(let paths)? = doc["paths"] else { return [] }
        var out = Set<String>()
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for method in methods.keys { out.insert("\(method.uppercased()) \(path)") }
        }
        return out
    }

    @Test("Every route the server registers is in the OpenAPI document, and every documented route is registered")
    func routesMatchDocument() throws {
        let f = try HTTPFixture()
        let registered = Set(f.server.buildRouter().routes.map { "\($0.method.rawValue) \($0.path)" })
        let documented = Self.documented(OpenAPI.document)
        #expect(registered.count >= 20, "\(registered.sorted())")
        for route in registered.subtracting(documented).sorted() {
            Issue.record("""
                route \(route) is registered by the server but missing from the OpenAPI document: add an APIOperation \
                for it to OpenAPI.operations (Sources/CrescentHTTP/OpenAPI+Operations.swift), then rewrite docs/openapi.json \
                with CRESCENT_WRITE_OPENAPI=1 swift test --filter OpenAPITests
                """)
        }
        for route in documented.subtracting(registered).sorted() {
            Issue.record("route \(route) is in the OpenAPI document but the server does not register it: remove it from OpenAPI.operations or add the route")
        }
    }

    @Test("docs/openapi.json is the document the server serves (rewritten with CRESCENT_WRITE_OPENAPI=1)")
    func docsCopyIsCurrent() throws {
        if ProcessInfo.processInfo.environment["CRESCENT_WRITE_OPENAPI"] == "1" {
            try OpenAPI.text.write(to: Self.docsFile, atomically: true, encoding: .utf8)
        }
        let onDisk = try String(contentsOf: Self.docsFile, encoding: .utf8)
        #expect(onDisk == OpenAPI.text, """
            docs/openapi.json differs from the document built from Sources/CrescentHTTP/OpenAPI*.swift: \
            rewrite it with CRESCENT_WRITE_OPENAPI=1 swift test --filter OpenAPITests
            """)
        #expect(try JSONValue.decode(onDisk) == OpenAPI.document)
    }

    @Test("Every operation has an id, a summary and responses; ids are unique; every $ref resolves")
    func documentIsWellFormed() throws {
        let doc = OpenAPI.document
        #expect(doc["openapi"] == .string("3.1.0"))
        var ids: [String] = []
        guard case .object(let paths)? = doc["paths"] else { Issue.record("no paths"); return }
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for (method, op) in methods {
                let id = try #require(op["operationId"]?.stringValue, "\(method) \(path)")
                ids.append(id)
                #expect(op["summary"]?.stringValue?.isEmpty == false, "\(id)")
                guard case .object(let responses)? = op["responses"] else { Issue.record("\(id) has no responses"); continue }
                #expect(responses.keys.contains { $0.hasPrefix("2") || $0.hasPrefix("3") }, "\(id) has no success response")
                let open = op["security"] == .array([])
                #expect(open == (path == "/healthz"), "\(id): only /healthz answers without the password")
                if !open { #expect(responses["401"] != nil, "\(id) does not document 401") }
                // Path parameters named in the path are declared.
                for name in path.split(separator: "/").filter({ $0.hasPrefix("{") }).map({ String($0.dropFirst().dropLast()) }) {
                    let declared = op["parameters"].map { p -> Bool in
                        guard case .array(let list) = p else { return false }
                        return list.contains { $0["name"] == .string(name) && $0["in"] == .string("path") }
                    } ?? false
                    #expect(declared, "\(id) does not declare its path parameter \(name)")
                }
            }
        }
        #expect(Set(ids).count == ids.count, "operation ids repeat: \(ids.sorted())")
        var refs: [String] = []
        func collect(_ v: JSONValue) {
            switch v {
            case .object(let o):
                if let r = o["$ref"]?.stringValue { refs.append(r) }
                o.values.forEach(collect)
            case .array(let a): a.forEach(collect)
            default: break
            }
        }
        collect(doc)
        #expect(!refs.isEmpty)
        for r in Set(refs) {
            let parts = r.split(separator: "/").dropFirst().map(String.init)
            var node: JSONValue? = doc
            for p in parts { node = node?[p] }
            #expect(r.hasPrefix("#/") && node != nil, "unresolved $ref \(r)")
        }
    }

    @Test("GET /api/openapi.json serves the document, behind the password like the rest of the API")
    func served() async throws {
        let f = try HTTPFixture(password: "s3cret")
        try await f.test { client in
            let refused = try await client.execute(uri: "/api/openapi.json", method: .get)
            #expect(refused.status == .unauthorized)
            let r = try await client.execute(uri: "/api/openapi.json", method: .get, headers: [.authorization: "Bearer s3cret"])
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "application/json; charset=utf-8")
            #expect(r.json == OpenAPI.document)
            #expect(r.json?["paths"]?["/api/jobs"]?["post"]?["operationId"] == .string("enqueueJob"))
        }
    }
}
