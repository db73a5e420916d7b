import ArgumentParser
import CrescentCore
import CrescentRuntime
import Foundation
import Logging

struct Crescent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crescent",
        abstract: "A background job runner: Lua task files, SQLite jobs, a worker pool.",
        discussion: "Reference: docs/README.md in the Crescent repository (config, task files, Lua API, commands, HTTP API, jobs).",
        version: "crescent \(CrescentVersion.current)",
        subcommands: [
            RunCommand.self, EnqueueCommand.self, JobsCommand.self, JobCommand.self, RetryCommand.self,
            CancelCommand.self, TasksCommand.self, StatusCommand.self, CheckCommand.self, NextCommand.self,
            ExecCommand.self, StopCommand.self, BenchCommand.self, CopyCommand.self,
            InitCommand.self, TypesCommand.self,
            PauseCommand.self, ResumeCommand.self, QuietCommand.self,
            DeleteCommand.self, RunNowCommand.self,
        ]
    )
}

/// `--config`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The TOML config (default ./crescent.toml, or $CRESCENT_CONFIG).")
    var config: String?

    func load() throws(CrescentError) -> Config {
        try Config.load(path: config)
    }
}

/// A subcommand body that reports `CrescentError`s as one sentence on stderr with SPEC's exit codes.
/// Throw `ExitCode` to exit quietly with a code after printing what was needed.
protocol CrescentCommand: ParsableCommand {
    func execute() throws
}

extension CrescentCommand {
    func run() throws {
        do {
            try execute()
        } catch let error as CrescentError {
            Output.error(error.description)
            throw ExitCode(error.exitCode)
        }
    }
}

enum Output {
    /// One line of human output: control characters (terminal escapes, newlines) in names and
    /// errors are shown escaped, so they can neither drive the terminal nor forge lines.
    static func line(_ s: String) {
        FileHandle.standardOutput.write(Data((TerminalText.escaped(s) + "\n").utf8))
    }

    static func error(_ s: String) {
        FileHandle.standardError.write(Data(("crescent: " + TerminalText.escaped(s) + "\n").utf8))
    }

    /// JSON output escapes control characters itself.
    static func json(_ v: JSONValue) { FileHandle.standardOutput.write(Data((v.encoded() + "\n").utf8)) }

    /// Left-aligned columns.
    static func table(_ header: [String], _ rows: [[String]]) {
        let rows = rows.map { $0.map(TerminalText.escaped) }
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func fmt(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        line(fmt(header))
        for row in rows { line(fmt(row)) }
    }
}

/// Logging for commands: text on stderr at `level`, or the config's format for `run`.
enum LogSetup {
    static func bootstrap(format: Config.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: return JSONLogHandler(label: label, level: level)
            case .text: return TextLogHandler(label: label, level: level)
            }
        }
    }
}
