import ArgumentParser
import CrescentCore
import CrescentLua
import CrescentRuntime
import Foundation

struct CheckCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Validate the config and every task file.")

    @OptionGroup var options: ConfigOption

    func execute() throws {
        let config: Config
        do {
            config = try options.load()
        } catch {
            // A broken config: file:line: message on standard error, exit 2, as for every other command.
            Output.error(error.description)
            throw ExitCode(error.exitCode)
        }
        let (snapshot, registry) = config.loadTasks()
        for link in snapshot.skippedLinks { Output.error("warning: \(link): directory symlink not followed") }
        let configPath = options.config ?? ProcessInfo.processInfo.environment["CRESCENT_CONFIG"] ?? "crescent.toml"
        for warning in CheckWarnings.all(config: config, configPath: configPath) { Output.error("warning: " + warning) }
        let current = registry.current
        for error in current.errors { Output.line(error.description) }
        // Globals that are neither host APIs nor sandboxed libraries (typos like `qeue`).
        let globals = GlobalCheck.check(snapshot, sandbox: try SandboxGlobals.read())
        for finding in globals { Output.line(finding.description) }
        if !current.errors.isEmpty || !globals.isEmpty { throw ExitCode(1) }
        Output.line("ok: \(current.tasks.count) task\(current.tasks.count == 1 ? "" : "s") in \(config.tasksDir.path)")
    }
}
