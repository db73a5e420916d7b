import CrescentCore
import Foundation
import Hummingbird

/// The OpenAPI 3.1 document of every route the server registers, served at
/// `GET /api/openapi.json` and written to `docs/openapi.json` (a test keeps that copy equal to
/// this one, and another checks the document and the router name the same routes).
///
/// Adding a route: one `APIOperation` in `OpenAPI.operations` (OpenAPI+Operations.swift), a
/// schema in OpenAPI+Schemas.swift if it answers a new shape, then
/// `CRESCENT_WRITE_OPENAPI=1 swift test --filter OpenAPITests` to rewrite docs/openapi.json.
struct APIOperation: Sendable {
    var method: String
    /// As registered on the router, e.g. `/api/jobs/{id}`.
    var path: String
    var id: String
    var tag: String
    var summary: String
    var description: String? = nil
    var parameters: [JSONValue] = []
    var body: JSONValue? = nil
    /// Status code → response object; 401 (and, for POST, 403 and 413) are added.
    var responses: [String: JSONValue]
    /// Answers without the password even when one is set (only `/healthz`).
    var open = false
}

enum OpenAPI {
    /// The document as one JSON value.
    static let document: JSONValue = build()

    /// The document as indented text (keys sorted), as in docs/openapi.json.
    static let text: String = {
        var out = ""
        Dashboard.pretty(document, indent: "", into: &out)
        return out + "\n"
    }()

    static func build() -> JSONValue {
        var paths: [String: [String: JSONValue]] = [:]
        for op in operations {
            paths[op.path, default: [:]][op.method.lowercased()] = operation(op)
        }
        return .object([
            "openapi": .string("3.1.0"),
            "info": .object([
                "title": .string("Crescent HTTP API"),
                "version": .string("1"),
                "description": .string("""
                    The JSON API, dashboard, metrics and health check that `crescent run` serves when its \
                    config has an `[http]` table. With `[http] password` set, every route but `/healthz` \
                    needs it (HTTP Basic with any user name, or a Bearer token); without one, every route \
                    is open. Errors of the API are `{"error": "..."}`; dashboard pages asked for with \
                    `Accept: text/html` get an HTML page instead. Requests other than GET and HEAD that a \
                    browser marks as cross-site are refused with 403. See docs/http-api.md.
                    """),
                "license": .object(["name": .string("See the project's LICENSE")]),
            ]),
            "servers": .array([.object(["url": .string("http://127.0.0.1:7420"), "description": .string("the default [http] listen address")])]),
            "security": .array(authSchemes),
            "tags": .array([
                tag("jobs", "Enqueue, list, inspect, retry and cancel jobs."),
                tag("reports", "Tasks, queue statistics and this document."),
                tag("dashboard", "Server-rendered HTML pages and their forms."),
                tag("operations", "Prometheus metrics and the health check."),
            ]),
            "paths": .object(paths.mapValues { .object($0) }),
            "components": .object([
                "securitySchemes": .object([
                    "basicAuth": .object(["type": .string("http"), "scheme": .string("basic"),
                                          "description": .string("Any user name; the password is `[http] password`.")]),
                    "bearerAuth": .object(["type": .string("http"), "scheme": .string("bearer"),
                                           "description": .string("`Authorization: Bearer <[http] password>`.")]),
                ]),
                "schemas": schemas,
                "responses": .object([
                    "Unauthorized": .object([
                        "description": .string("The password is missing or wrong."),
                        "headers": .object(["WWW-Authenticate": .object(["schema": .object(["type": .string("string")]),
                                                                         "description": .string("`Basic realm=\"crescent\"`")])]),
                        "content": .object(["application/json": .object(["schema": ref("Error")])]),
                    ]),
                ]),
            ]),
        ])
    }

    static let authSchemes: [JSONValue] = [.object(["basicAuth": .array([])]), .object(["bearerAuth": .array([])])]

    static func tag(_ name: String, _ description: String) -> JSONValue {
        .object(["name": .string(name), "description": .string(description)])
    }

    static func operation(_ op: APIOperation) -> JSONValue {
        var responses = op.responses
        if !op.open { responses["401"] = .object(["$ref": .string("#/components/responses/Unauthorized")]) }
        if op.method == "POST" {
            let html = op.tag == "dashboard"
            responses["403"] = responses["403"] ?? error("A browser marked the request as cross-site.", html: html)
            responses["413"] = error("The request body is over 1 MiB.", html: html)
        }
        var o: [String: JSONValue] = [
            "operationId": .string(op.id), "tags": .array([.string(op.tag)]), "summary": .string(op.summary),
            "responses": .object(responses),
        ]
        if let d = op.description { o["description"] = .string(d) }
        if !op.parameters.isEmpty { o["parameters"] = .array(op.parameters) }
        if let body = op.body { o["requestBody"] = body }
        if op.open { o["security"] = .array([]) }
        return .object(o)
    }

    // MARK: building blocks

    static func ref(_ schema: String) -> JSONValue { .object(["$ref": .string("#/components/schemas/\(schema)")]) }

    /// A JSON response of `schema` (a component name).
    static func json(_ description: String, _ schema: String) -> JSONValue {
        .object(["description": .string(description), "content": .object(["application/json": .object(["schema": ref(schema)])])])
    }

    static func jsonArray(_ description: String, of schema: String) -> JSONValue {
        .object(["description": .string(description), "content": .object([
            "application/json": .object(["schema": .object(["type": .string("array"), "items": ref(schema)])]),
        ])])
    }

    static func html(_ description: String) -> JSONValue {
        .object(["description": .string(description), "content": .object(["text/html": .object(["schema": .object(["type": .string("string")])])])])
    }

    /// An error response: `{"error": ...}`, or, for dashboard routes, also an HTML page when
    /// the client accepts `text/html`.
    static func error(_ description: String, html: Bool = false) -> JSONValue {
        var content: [String: JSONValue] = ["application/json": .object(["schema": ref("Error")])]
        if html { content["text/html"] = .object(["schema": .object(["type": .string("string")])]) }
        return .object(["description": .string(description), "content": .object(content)])
    }

    static func query(_ name: String, _ schema: JSONValue, _ description: String) -> JSONValue {
        .object(["name": .string(name), "in": .string("query"), "required": .bool(false),
                 "description": .string(description), "schema": schema])
    }

    static let jobIDParameter: JSONValue = .object([
        "name": .string("id"), "in": .string("path"), "required": .bool(true),
        "description": .string("A job id: a positive integer."),
        "schema": .object(["type": .string("integer"), "format": .string("int64"), "minimum": .int(1)]),
        "example": .int(1),
    ])

    static func schema(_ text: String) -> JSONValue {
        do { return try JSONValue.decode(text) } catch { preconditionFailure("OpenAPI schema text does not parse: \(error)") }
    }
}

extension HTTPServer {
    /// `GET /api/openapi.json`: the document above (behind the password like the rest of the API).
    func addOpenAPIRoute(to router: Router<BasicRequestContext>) {
        router.get("/api/openapi.json") { _, _ in
            Response.text(OpenAPI.text, contentType: "application/json; charset=utf-8")
        }
    }
}
