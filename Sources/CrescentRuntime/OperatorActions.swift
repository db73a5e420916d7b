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

    /// Records `request` for the process `id`; an unknown id is `notFound`, naming the live ones.
    public static func request(_ request: ProcessRequest, process id: String, store: JobStore) throws(CrescentError) {
        do {
            if try store.processRequest(id: id, request, now: Date()) { return }
            let live = try store.processList().map(\.id)
            throw CrescentError.notFound("no running process with id \"\(id)\"; the running processes are "
                + (live.isEmpty ? "none" : live.joined(separator: ", ")))
        } catch let error as CrescentError {
            throw error
        } catch {
            throw .failed("\(request.rawValue) failed: \(error)")
        }
    }
}
