import CrescentCore
import CrescentStore
import Foundation

/// Operator control shared by the CLI and the HTTP API: pause and resume a queue, quiet or
/// stop one process. Everything goes through the store, so it reaches every process of the
/// database.
public enum OperatorActions {
    /// The queues that exist: declared in the config, named by a task, holding jobs, or paused.
    public static func knownQueues(config: Config, tasks: [TaskDefinition], store: JobStore) throws -> Set<String> {
        var known = Set(config.queues.map(\.name)).union(tasks.map(\.queue))
        known.formUnion(try store.jobQueueNames())
        known.formUnion(try store.queuesPaused().keys)
        return known
    }

    /// `--queues` / `pause`: an error naming the unknown queues and the ones that exist, or nil.
    public static func unknownQueues(_ names: [String], known: Set<String>, what: String) -> CrescentError? {
        let unknown = names.filter { !known.contains($0) }
        guard !unknown.isEmpty else { return nil }
        return .usage("\(what): no queue named \(unknown.map { "\"\($0)\"" }.joined(separator: ", ")); the queues that exist are "
            + (known.isEmpty ? "none yet" : known.sorted().joined(separator: ", ")))
    }

    /// Pauses or resumes `queue`; returns whether its state changed. An unknown queue is refused.
    public static func setPaused(_ queue: String, paused: Bool, config: Config, tasks: [TaskDefinition],
                                 store: JobStore) throws(CrescentError) -> Bool {
        do {
            let known = try knownQueues(config: config, tasks: tasks, store: store)
            if let error = unknownQueues([queue], known: known, what: paused ? "pause" : "resume") { throw error }
            return try store.queueSetPaused(queue, paused: paused, now: Date())
        } catch let error as CrescentError {
            throw error
        } catch {
            throw .failed("\(paused ? "pause" : "resume") failed: \(error)")
        }
    }

    /// Records `request` for the process `id`; an unknown id is `notFound`, naming the live ones,
    /// and so is a lost one (another process rescued its jobs), saying so.
    public static func request(_ request: ProcessRequest, process id: String, store: JobStore) throws(CrescentError) {
        do {
            if try store.processRequest(id: id, request, now: Date()) { return }
            let listed = try store.processList(includingLost: true)
            let live = listed.filter { $0.lostAt == nil }.map(\.id)
            if let lost = listed.first(where: { $0.id == id && $0.lostAt != nil }), let at = lost.lostAt {
                throw CrescentError.notFound("process \"\(id)\" is lost (another process rescued its jobs at \(TimeText.format(at))); "
                    + "the running processes are " + (live.isEmpty ? "none" : live.joined(separator: ", ")))
            }
            throw CrescentError.notFound("no running process with id \"\(id)\"; the running processes are "
                + (live.isEmpty ? "none" : live.joined(separator: ", ")))
        } catch let error as CrescentError {
            throw error
        } catch {
            throw .failed("\(request.rawValue) failed: \(error)")
        }
    }

    // MARK: bulk actions

    /// The ids of every job `params` matches (its limit and offset ignored), newest first.
    public static func matchingIDs(_ params: JobListParams, store: JobStore) throws -> [Int64] {
        var page = params
        page.limit = 1000
        page.offset = 0
        var ids: [Int64] = []
        while true {
            let jobs = try store.jobList(page)
            ids.append(contentsOf: jobs.map(\.id))
            if jobs.count < page.limit { return ids }
            page.offset += jobs.count
        }
    }

    /// The state a filter acts on, checked for the action: `retry` takes dead, cancelled or
    /// expired jobs; `delete` anything but running ones.
    public static func filterState(_ text: String?, for action: String) throws(CrescentError) -> JobState {
        guard let text else { throw .usage("\(action) by filter needs --state") }
        guard let state = JobState(rawValue: text) else {
            throw .usage("unknown state \"\(text)\" (one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        switch action {
        case "retry" where ![.dead, .cancelled, .expired].contains(state):
            throw .usage("only dead, cancelled or expired jobs can be retried, not \(state.rawValue) ones")
        case "delete" where state == .running:
            throw .usage("running jobs cannot be deleted; cancel them first")
        default: return state
        }
    }

    /// Applies `action` (retry, delete, run-now, cancel) to `ids` in chunks; returns the ids it moved.
    public static func apply(_ action: String, ids: [Int64], store: JobStore, now: Date = Date()) throws -> [Int64] {
        var done: [Int64] = []
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 500)])
            switch action {
            case "retry": done += try store.jobRetry(ids: chunk)
            case "delete": done += try store.jobDelete(ids: chunk)
            case "run-now": done += try store.jobRunNow(ids: chunk, now: now)
            case "cancel": done += try store.jobCancel(ids: chunk)
            default: throw CrescentError.usage("unknown action \"\(action)\" (retry, delete, run-now, cancel)")
            }
            start += chunk.count
        }
        return done
    }
}
