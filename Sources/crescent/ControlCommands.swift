import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation

struct PauseCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Pause a queue: no process claims from it; running jobs finish.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The queue.") var queue: String

    func execute() throws { try setPaused(queue, true, options) }
}

struct ResumeCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused queue.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The queue.") var queue: String

    func execute() throws { try setPaused(queue, false, options) }
}

private func setPaused(_ queue: String, _ paused: Bool, _ options: ConfigOption) throws {
    let config = try options.load()
    let store = try config.openStore()
    let tasks = TaskRegistry.persisted(in: store)
    let changed = try OperatorActions.setPaused(queue, paused: paused, config: config, tasks: tasks, store: store)
    switch (paused, changed) {
    case (true, true): Output.line("queue \(queue) paused; running jobs finish, no process claims from it until crescent resume \(queue)")
    case (true, false): Output.line("queue \(queue) was already paused")
    case (false, true): Output.line("queue \(queue) resumed")
    case (false, false): Output.line("queue \(queue) was not paused")
    }
}

struct QuietCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "quiet", abstract: "Ask one run process to claim nothing new and finish what it runs.")

    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("process"), help: "The process id (as `crescent status` shows it).") var process: String

    func execute() throws {
        let store = try options.load().openStore()
        try OperatorActions.request(.quiet, process: process, store: store)
        Output.line("process \(process) quieted: it claims no new jobs and finishes the running ones (stop it with crescent stop --process)")
    }
}
