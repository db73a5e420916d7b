import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Hummingbird

/// The dashboard's processes page: each `run` process with its host, Crescent and tasks
/// versions, memory, busy slots out of its capacity, the jobs it runs (linked), quiet and stop
/// buttons; below them the processes lost in the last hour, with the jobs rescued from them.
extension HTTPServer {
    func processesPage(_ request: Request) async throws -> Response {
        let store = self.store
        let now = Date()
        let lease = config.lease
        let (processes, requests, owned) = try await readIO { () throws -> ([WorkerProcess], [String: Set<ProcessRequest>], [String: [Int64]]) in
            let processes = try store.processList(includingLost: true).filter { $0.isListed(at: now) }
            // The jobs each live one runs now (a seek per process on the running jobs' index).
            let owned = try Dictionary(uniqueKeysWithValues: processes.filter { $0.lostAt == nil }.map {
                ($0.id, try store.jobsOwned(worker: $0.id).keys.sorted())
            })
            return (processes, try store.processRequests(), owned)
        }
        let live = processes.filter { $0.lostAt == nil }
        let lost = processes.filter { $0.lostAt != nil }
        func common(_ p: WorkerProcess) -> [String: Any] {
            [
                "id": p.id, "host": p.host, "pid": p.pid, "queues": p.queues.isEmpty ? "all" : p.queues.joined(separator: ", "),
                "version": p.version.isEmpty ? "-" : p.version,
                "rss": p.rssBytes.map { ByteText.format($0) } ?? "-", "rssBytes": p.rssBytes.map { String($0) } ?? "",
                "startedAt": Dashboard.relative(p.startedAt, now: now), "startedAtFull": Dashboard.clock(p.startedAt),
                "heartbeatAt": Dashboard.relative(p.heartbeatAt, now: now), "heartbeatAtFull": Dashboard.clock(p.heartbeatAt),
                "tasksVersion": p.tasksVersion.isEmpty ? "-" : p.tasksVersion,
            ]
        }
        let rows = live.map { p -> [String: Any] in
            common(p).merging([
                "running": (owned[p.id] ?? []).map { ["id": $0] as [String: Any] },
                "quiet": requests[p.id]?.contains(.quiet) ?? false, "stopping": requests[p.id]?.contains(.stop) ?? false,
                "urlID": RequestInput.encode(p.id),
                "stale": now.timeIntervalSince(p.heartbeatAt) > lease, "busy": p.busy, "capacity": p.capacity,
            ]) { $1 }
        }
        let lostRows = lost.map { p -> [String: Any] in
            let at = p.lostAt ?? now
            var row = common(p).merging([
                "lostAt": Dashboard.relative(at, now: now), "lostAtFull": Dashboard.clock(at),
                "rescued": p.rescuedJobs.map { ["id": $0] as [String: Any] }, "rescuedCount": p.rescuedCount,
            ]) { $1 }
            if p.rescuedCount > p.rescuedJobs.count { row["more"] = p.rescuedCount - p.rescuedJobs.count }
            return row
        }
        let versions = Set(live.map(\.tasksVersion)).count
        var context: [String: Any] = ["processes": rows, "hasProcesses": !rows.isEmpty, "store": store.storeDescription,
                                      "lost": lostRows, "hasLost": !lostRows.isEmpty]
        if versions > 1 { context["skew"] = versions }
        return try await render("processes", title: "Processes", active: "/processes", request: request, context: context)
    }
}
