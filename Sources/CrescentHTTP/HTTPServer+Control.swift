import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Hummingbird
import Prometheus

/// Operator control (issue 15), on the API and as dashboard forms:
///
/// | route | answers |
/// | --- | --- |
/// | `POST /api/queues/{name}/pause`, `/resume` | 200 `{queue, paused, changed}`; 404 unknown queue |
/// | `POST /api/processes/{id}/quiet`, `/stop` | 202 `{process, request}`; 404 no such running process |
///
/// The dashboard's forms post to `/queues/{name}/pause|resume` and `/processes/{id}/quiet|stop`.
extension HTTPServer {
    func addControlRoutes(to router: Router<BasicRequestContext>) {
        for paused in [true, false] {
            let verb = paused ? "pause" : "resume"
            router.post("/api/queues/{name}/\(verb)") { request, context in
                let queue = try Self.pathName(context, "name", what: "queue")
                _ = try await RequestInput.body(request)
                let changed = try await self.setPaused(queue, paused)
                return Response.json(.object(["queue": .string(queue), "paused": .bool(paused), "changed": .bool(changed)]))
            }
            router.post("/queues/{name}/\(verb)") { request, context in
                let queue = try Self.pathName(context, "name", what: "queue")
                return try await self.formAction(request, fallback: "/queues") {
                    _ = try await self.setPaused(queue, paused)
                    return "\(paused ? "paused" : "resumed"):\(queue)"
                }
            }
        }
        for processRequest in ProcessRequest.allCases {
            router.post("/api/processes/{id}/\(processRequest.rawValue)") { request, context in
                let id = try Self.pathName(context, "id", what: "process id")
                _ = try await RequestInput.body(request)
                try await self.request(processRequest, process: id)
                return Response.json(.object(["process": .string(id), "request": .string(processRequest.rawValue)]), status: .accepted)
            }
            router.post("/processes/{id}/\(processRequest.rawValue)") { request, context in
                let id = try Self.pathName(context, "id", what: "process id")
                return try await self.formAction(request, fallback: "/processes") {
                    try await self.request(processRequest, process: id)
                    return "\(processRequest == .quiet ? "quieted" : "stop-requested"):\(id)"
                }
            }
        }
    }

    func setPaused(_ queue: String, _ paused: Bool) async throws -> Bool {
        let (config, registry, store) = (self.config, self.registry, self.store)
        do {
            let changed = try await io {
                try OperatorActions.setPaused(queue, paused: paused, config: config, tasks: Array(registry.current.tasks.values), store: store)
            }
            if changed && !paused { onEnqueued() }
            return changed
        } catch let error as CrescentError where error.kind == .usage {
            throw HTTPFailure.notFound(error.message)
        }
    }

    func request(_ request: ProcessRequest, process id: String) async throws {
        let store = self.store
        try await io { try OperatorActions.request(request, process: id, store: store) }
    }

    /// A name from the path, percent-decoded; empty or undecodable is a 400.
    static func pathName(_ context: BasicRequestContext, _ key: String, what: String) throws -> String {
        let raw = context.parameters.get(key) ?? ""
        guard let name = raw.removingPercentEncoding, !name.isEmpty else { throw HTTPFailure.badRequest("\(what) \"\(raw)\" is not valid") }
        return name
    }

    /// The dashboard's notes after a control form.
    static func controlNotice(_ kind: String, _ name: String) -> String? {
        switch kind {
        case "paused": return "Queue \(name) is paused: no process claims from it; running jobs finish."
        case "resumed": return "Queue \(name) was resumed."
        case "quieted": return "Process \(name) was asked to claim nothing new; its running jobs finish."
        case "stop-requested": return "Process \(name) was asked to stop gracefully."
        case "bulk-retry", "bulk-delete", "bulk-cancel", "bulk-run-now":
            return "\(kind.dropFirst(5)): \(name) job\(name == "1" ? "" : "s") done."
        default: return nil
        }
    }
}

/// `crescent_queue_paused{queue}`: 1 for a paused queue, 0 for every other known one,
/// computed at scrape time (a queue resumed since reports 0).
final class PausedGauges: Sendable {
    static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "crescent", metricName: "queue_paused", unitName: "", helpText: "1 while the queue is paused, else 0.")
    }
    private let seenQueues = LockedBox<Set<String>>([])

    func update(paused: Set<String>, known: [String], registry: PrometheusCollectorRegistry) {
        let queues = seenQueues.withValue { seen -> Set<String> in
            seen.formUnion(paused)
            seen.formUnion(known)
            return seen
        }
        for queue in queues {
            registry.makeGauge(descriptor: Self.descriptor, labels: [("queue", queue)]).set(Double(paused.contains(queue) ? 1 : 0))
        }
    }
}
