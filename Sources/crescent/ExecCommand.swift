import ArgumentParser
import CrescentCore
import CrescentLua
import CrescentRuntime
import Foundation
import Logging

struct ExecCommand: CrescentCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec",
        abstract: "Run one handler now in the foreground with the real host APIs; nothing is persisted.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The task name.") var task: String
    @Option(help: "Args as a JSON object.") var args: String?

    func execute() throws {
        let config = try options.load()
        let argsText = try Enqueuer.canonicalArgs(try EnqueueCommand.objectArgs(args))
        let (snapshot, registry) = config.loadTasks()
        guard let def = registry.task(named: task) else {
            if let broken = registry.current.errors.first(where: { $0.file.hasSuffix("/\(task).lua") }) {
                throw CrescentError(.failed, "task \"\(task)\" did not load: \(broken)")
            }
            throw CrescentError.notFound("unknown task \"\(task)\"")
        }
        LogSetup.bootstrap(format: .text, level: .debug)
        let logger = Logger(label: "crescent")
        // Store reads see the real database when there is one (a SQLite file that exists, or
        // the PostgreSQL server); no job or store value is ever written.
        let store = config.isPostgres || FileManager.default.fileExists(atPath: config.database) ? try config.openStore() : nil
        let worker: LuaWorker
        do {
            worker = try LuaWorker(index: 0, config: config.luaConfig, host: ExecHost(store: store, registry: registry), logger: logger)
        } catch {
            throw CrescentError.failed("cannot start a Lua VM: \(error)")
        }
        defer { worker.shutdown() }
        _ = worker.install(snapshot)

        let now = Date()
        let job = Job(id: 0, task: def.name, queue: def.queue, priority: def.priority, state: .running, args: argsText,
                      attempt: 1, maxAttempts: def.retry.attempts, runAt: now, createdAt: now)
        let box = ResultBox()
        worker.submit(ExecRequest(job: job, ttl: def.ttl)) { box.set($0) }
        let result = box.wait()

        let seconds = String(format: "%.3f", result.finishedAt.timeIntervalSince(result.startedAt))
        var failed = false
        switch result.outcome {
        case .succeeded(let value): Output.line("succeeded in \(seconds)s"); Output.line("result: \(value)")
        case .failed(let message, let traceback):
            failed = true
            Output.line("failed in \(seconds)s")
            Output.line("error: \(message)")
            for l in traceback?.split(separator: "\n") ?? [] { Output.line(String(l)) }
        case .snoozed(let s): Output.line("snoozed for \(DurationText.format(s)) (in \(seconds)s)")
        case .discarded(let reason): failed = true; Output.line("discarded in \(seconds)s: \(reason)")
        case .aborted(let reason): failed = true; Output.line("aborted in \(seconds)s: \(reason)")
        }
        if let progress = result.progress { Output.line("progress: \(progress.summary)") }
        if !result.pushes.isEmpty {
            Output.line("would push (\(result.pushes.count)):")
            for p in result.pushes { Output.line("  \(p.task) \(p.args) queue=\(p.queue)" + (p.runAt.timeIntervalSince(result.finishedAt) > 0.5 ? " at \(TimeText.format(p.runAt))" : "")) }
        }
        if !result.storeWrites.isEmpty {
            Output.line("would write to the store (\(result.storeWrites.count)):")
            for w in result.storeWrites { Output.line("  \(w.key) = \(w.value ?? "(deleted)")") }
        }
        if failed { throw ExitCode(1) }
    }
}

/// Hands a worker's result to the waiting command thread.
final class ResultBox: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private var result: ExecResult?

    func set(_ r: ExecResult) {
        result = r
        semaphore.signal()
    }

    func wait() -> ExecResult {
        semaphore.wait()
        return result!
    }
}
