import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation

struct RetryCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "retry", abstract: "Put dead or cancelled jobs back in the queue now.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Job ids.") var ids: [Int64] = []
    @Flag(name: .customLong("all-dead"), help: "Retry every dead job.") var allDead = false
    @Option(help: "Retry every job in this state (dead, cancelled or expired).") var state: String?
    @Option(help: "With --state: only jobs of this task.") var task: String?
    @Option(help: "With --state: only jobs of this queue.") var queue: String?

    func execute() throws {
        let ways = [!ids.isEmpty, allDead, state != nil].filter { $0 }.count
        if ways != 1 { throw CrescentError.usage(ways == 0 ? "give job ids, --all-dead or --state" : "give only one of job ids, --all-dead, --state") }
        if state == nil && (task != nil || queue != nil) { throw CrescentError.usage("--task and --queue go with --state") }
        let filterState = try state.map { s throws(CrescentError) in try OperatorActions.filterState(s, for: "retry") }
        let store = try options.load().openStore()
        try storeAction("retry") {
            if let filterState {
                let matching = try OperatorActions.matchingIDs(JobListParams(state: filterState, task: task, queue: queue), store: store)
                let moved = try OperatorActions.apply("retry", ids: matching, store: store)
                Output.line("\(moved.count) jobs queued again" + (moved.count < matching.count ? "; \(matching.count - moved.count) left (their unique key is held by an active job)" : ""))
                return
            }
            if allDead {
                Output.line("\(try store.jobRetryAllDead()) jobs queued again")
                return
            }
            try reportEach(ids, done: Set(try store.jobRetry(ids: ids)), store: store, verb: "queued") { job in
                "job \(job.id) is \(job.state.rawValue); only dead, cancelled or expired jobs can be retried"
            }
        }
    }
}

struct CancelCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel scheduled or queued jobs; abort running ones.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "Job ids.") var ids: [Int64]

    func execute() throws {
        guard !ids.isEmpty else { throw CrescentError.usage("give at least one job id") }
        let store = try options.load().openStore()
        try storeAction("cancel") {
            let done = Set(try store.jobCancel(ids: ids))
            var failed = false
            for id in ids {
                let job = try store.jobGet(id: id)
                if done.contains(id) {
                    Output.line(job?.state == .running ? "\(id) cancel requested (running; it is aborted within a second)" : "\(id) cancelled")
                } else {
                    failed = true
                    Output.error(job.map { "job \(id) is \($0.state.rawValue) and cannot be cancelled" } ?? "no job with id \(id)")
                }
            }
            if failed { throw ExitCode(1) }
        }
    }
}

struct StopCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "stop", abstract: "Ask every run process on this database (or one) to stop gracefully.")

    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("process"), help: "Stop only this process (its id as `crescent status` shows it).") var process: String?

    func execute() throws {
        let store = try options.load().openStore()
        if let process {
            try OperatorActions.request(.stop, process: process, store: store)
            Output.line("stop requested; process \(process) will stop gracefully")
            return
        }
        do {
            let processes = try store.processList()
            try store.stopRequest(now: Date())
            Output.line("stop requested; \(processes.count) running process\(processes.count == 1 ? "" : "es") will stop gracefully")
        } catch {
            throw CrescentError.failed("stop failed: \(error)")
        }
    }
}
