import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Hummingbird

/// Bulk actions on jobs (issue 15), on the API and as the dashboard's list forms:
///
/// | route | answers |
/// | --- | --- |
/// | `POST /api/jobs/bulk` `{action, ids}` or `{action, state, task?, queue?}` | 200 `{action, matched, done}`; 400 bad input |
///
/// `action` is `retry`, `delete`, `cancel` or `run-now`. The dashboard's lists post ticked
/// rows (`id-N` fields) to `/jobs/bulk` with `confirm=yes`; deleting every job in a state
/// (`all=yes`) needs the state's name typed into `confirm_state`.
extension HTTPServer {
    static let bulkActions = ["retry", "delete", "cancel", "run-now"]

    func addBulkRoutes(to router: Router<BasicRequestContext>) {
        router.post("/api/jobs/bulk") { request, _ in
            let body = try await RequestInput.body(request)
            guard case .object(let fields)? = try? JSONValue.decode(body) else {
                throw HTTPFailure.badRequest("request body must be a JSON object like {\"action\": \"retry\", \"ids\": [1, 2]}")
            }
            let known: Set = ["action", "ids", "state", "task", "queue"]
            if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
                throw HTTPFailure.badRequest("unknown field \"\(unknown)\" (expected action, ids, state, task, queue)")
            }
            for key in ["action", "state", "task", "queue"] where fields[key] != nil && fields[key]?.stringValue == nil {
                throw HTTPFailure.badRequest("field \"\(key)\" must be a string")
            }
            let action = fields["action"]?.stringValue ?? ""
            var ids: [Int64]?
            if let list = fields["ids"], list != .null {
                guard case .array(let items) = list, !items.isEmpty,
                      let parsed = Optional(items.compactMap(\.intValue)), parsed.count == items.count, parsed.allSatisfy({ $0 > 0 }) else {
                    throw HTTPFailure.badRequest("field \"ids\" must be a non-empty array of positive job ids")
                }
                ids = parsed
            }
            let (matched, done) = try await self.bulk(action, ids: ids, state: fields["state"]?.stringValue,
                                                      task: fields["task"]?.stringValue, queue: fields["queue"]?.stringValue)
            return Response.json(.object(["action": .string(action), "matched": .int(Int64(matched)),
                                          "done": .array(done.map { .int($0) })]))
        }

        router.post("/jobs/bulk") { request, _ in
            try await self.formAction(request, fallback: "/jobs", withBody: { body in
                let form = RequestInput.form(body)
                let action = form["action"] ?? ""
                if form["all"] == "yes" {
                    // Every job of a state: the operator types the state's name.
                    guard let state = form["state"], !state.isEmpty, form["confirm_state"] == state else {
                        throw HTTPFailure.badRequest("to \(action) every job in a state, type the state's name in the confirmation box")
                    }
                    let (_, done) = try await self.bulk(action, ids: nil, state: state, task: nil, queue: nil)
                    return "bulk-\(action):\(done.count)"
                }
                guard form["confirm"] == "yes" else { throw HTTPFailure.badRequest("tick the confirmation box to apply a bulk action") }
                let ids = Self.tickedIDs(body)
                guard !ids.isEmpty else { throw HTTPFailure.badRequest("tick at least one job") }
                let (_, done) = try await self.bulk(action, ids: ids, state: nil, task: nil, queue: nil)
                return "bulk-\(action):\(done.count)"
            })
        }
    }

    /// The ids of ticked rows: fields named `id-N`.
    static func tickedIDs(_ body: String) -> [Int64] {
        body.split(separator: "&").compactMap { pair -> Int64? in
            let name = pair.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            guard name.hasPrefix("id-"), let id = Int64(name.dropFirst(3)), id > 0 else { return nil }
            return id
        }
    }

    /// Applies `action` to `ids`, or to every job matching the filter; returns (matched, done).
    func bulk(_ action: String, ids: [Int64]?, state: String?, task: String?, queue: String?) async throws -> (Int, [Int64]) {
        guard Self.bulkActions.contains(action) else {
            throw HTTPFailure.badRequest("field \"action\" must be one of \(Self.bulkActions.joined(separator: ", "))")
        }
        if ids != nil && (state != nil || task != nil || queue != nil) {
            throw HTTPFailure.badRequest("give either \"ids\" or a filter (\"state\", \"task\", \"queue\"), not both")
        }
        let filterState: JobState?
        if ids == nil {
            do {
                switch action {
                case "retry", "delete": filterState = try OperatorActions.filterState(state, for: action)
                default:
                    guard let state, let s = JobState(rawValue: state) else { throw CrescentError.usage("a filter needs a known \"state\"") }
                    filterState = s
                }
            } catch { throw HTTPFailure.badRequest((error as? CrescentError)?.message ?? "\(error)") }
        } else {
            filterState = nil
        }
        let store = self.store
        let result = try await io { () throws -> (Int, [Int64]) in
            let targets = try ids ?? OperatorActions.matchingIDs(JobListParams(state: filterState, task: task, queue: queue), store: store)
            return (targets.count, try OperatorActions.apply(action, ids: targets, store: store))
        }
        if action == "retry" || action == "run-now", !result.1.isEmpty { onEnqueued() }
        return result
    }
}
