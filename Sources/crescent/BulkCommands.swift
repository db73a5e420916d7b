import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation

struct DeleteCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete jobs (never running ones), by id or by state.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Job ids.") var ids: [Int64] = []
    @Option(help: "Delete every job in this state (not running).") var state: String?
    @Option(help: "With --state: only jobs of this task.") var task: String?
    @Option(help: "With --state: only jobs of this queue.") var queue: String?

    func execute() throws {
        if ids.isEmpty == (state == nil) { throw CrescentError.usage(ids.isEmpty ? "give job ids or --state" : "give job ids or --state, not both") }
        if state == nil && (task != nil || queue != nil) { throw CrescentError.usage("--task and --queue go with --state") }
        let filterState = try state.map { s throws(CrescentError) in try OperatorActions.filterState(s, for: "delete") }
        let store = try options.load().openStore()
        try storeAction("delete") {
            if let filterState {
                let matching = try OperatorActions.matchingIDs(JobListParams(state: filterState, task: task, queue: queue), store: store)
                let deleted = try OperatorActions.apply("delete", ids: matching, store: store)
                Output.line("\(deleted.count) \(filterState.rawValue) job\(deleted.count == 1 ? "" : "s") deleted")
                return
            }
            try reportEach(ids, done: Set(try store.jobDelete(ids: ids)), store: store, verb: "deleted") { job in
                "job \(job.id) is running and cannot be deleted; cancel it first"
            }
        }
    }
}

struct RunNowCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "run-now", abstract: "Make scheduled or retrying jobs due now, keeping their attempts.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Job ids.") var ids: [Int64]

    func execute() throws {
        guard !ids.isEmpty else { throw CrescentError.usage("give at least one job id") }
        let store = try options.load().openStore()
        try storeAction("run-now") {
            try reportEach(ids, done: Set(try store.jobRunNow(ids: ids, now: Date())), store: store, verb: "due now") { job in
                "job \(job.id) is \(job.state.rawValue); only scheduled or retrying jobs can be run now"
            }
        }
    }
}

/// One line per id: `ID VERB`, or on stderr why not (then exit 1).
/// Runs a command's store work: a store error becomes "NAME failed: …" (exit 1); an exit
/// status the work chose (`ExitCode`) passes as it is.
func storeAction(_ name: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch {
        throw CrescentError.failed("\(name) failed: \(error)")
    }
}

func reportEach(_ ids: [Int64], done: Set<Int64>, store: JobStore, verb: String, refused: (Job) -> String) throws {
    var failed = false
    for id in ids {
        if done.contains(id) {
            Output.line("\(id) \(verb)")
        } else {
            failed = true
            Output.error(try store.jobGet(id: id).map(refused) ?? "no job with id \(id)")
        }
    }
    if failed { throw ExitCode(1) }
}
