import ArgumentParser
import CrescentCore
import CrescentLua
import CrescentRuntime

struct CheckCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Validate the config and every task file.")

    @OptionGroup var options: ConfigOption

    func execute() throws {
        let config: Config
        do {
            config = try options.load()
        } catch {
            // A broken config is a problem like any other here: file:line: message, exit 1.
            Output.line(error.description)
            throw ExitCode(1)
        }
        let (snapshot, registry) = config.loadTasks()
        for link in snapshot.skippedLinks { Output.error("warning: \(link): directory symlink not followed") }
        let current = registry.current
        for error in current.errors { Output.line(error.description) }
        // Globals that are neither host APIs nor sandboxed libraries (typos like `qeue`).
        let globals = GlobalCheck.check(snapshot, sandbox: try SandboxGlobals.read())
        for finding in globals { Output.line(finding.description) }
        if !current.errors.isEmpty || !globals.isEmpty { throw ExitCode(1) }
        Output.line("ok: \(current.tasks.count) task\(current.tasks.count == 1 ? "" : "s") in \(config.tasksDir.path)")
    }
}
