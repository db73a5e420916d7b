import ArgumentParser
import CrescentCore
import CrescentStore
import Foundation

/// `crescent copy --from crescent.db --to postgres://…`: moves a single-host installation's
/// jobs, runs, store values and schedule state into a PostgreSQL schema.
struct CopyCommand: CrescentCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a SQLite database's jobs, runs, store values and schedule state into a PostgreSQL schema.",
        discussion: """
            Stop every runner on both databases first: copy refuses while a process has sent a heartbeat in \
            the last \(Int(recentHeartbeat)) seconds. The target schema is created if needed and must hold no \
            jobs, runs, store values or schedule state. Everything is copied in one transaction (all or \
            nothing), keeping job ids; the SQLite file is left as it was.
            """)

    @Option(help: "The SQLite database file to copy from.") var from: String
    @Option(help: "The postgres:// URL to copy into (its `schema` option names the schema).") var to: String
    @Flag(help: "Print the counts as one JSON object.") var json = false

    /// A process whose heartbeat is this recent is taken to be running.
    static let recentHeartbeat: TimeInterval = 30

    func execute() throws {
        guard PostgresURL.matches(to) else {
            throw CrescentError.usage("--to must be a postgres:// URL (postgres://user:password@host:5432/database?schema=crescent)")
        }
        let url: PostgresURL
        do {
            url = try PostgresURL(to)
        } catch {
            throw CrescentError.usage("--to: \(error.message.replacingOccurrences(of: "database: ", with: ""))")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: from, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw CrescentError.usage("--from: no SQLite database at \(from)")
        }
        let source: SQLiteJobStore
        do {
            source = try SQLiteJobStore(path: from)
        } catch {
            throw CrescentError.failed("--from: cannot open \(from) as a Crescent database: \(error)")
        }
        let target = try PostgresJobStore(url: url)
        try Self.refuseIfInUse(source, name: from)
        try Self.refuseIfInUse(target, name: url.display)
        let counts: CopyCounts
        do {
            counts = try target.copy(from: source)
        } catch let error as CrescentError {
            throw CrescentError.failed("copy refused, nothing was copied: \(error.message)")
        } catch {
            throw CrescentError.failed("copy failed, nothing was copied: \(error)")
        }
        if json {
            Output.json(.object([
                "jobs": .int(Int64(counts.jobs)), "runs": .int(Int64(counts.runs)), "store_values": .int(Int64(counts.values)),
                "schedules": .int(Int64(counts.schedules)), "run_seconds": .int(Int64(counts.runSeconds)),
                "from": .string(from), "to": .string(url.display),
            ]))
        } else {
            Output.line("""
                copied \(counts.jobs) jobs, \(counts.runs) runs, \(counts.values) store values, \(counts.schedules) schedule \
                states and \(counts.runSeconds) per-second run counts from \(from) to \(url.display)
                """)
        }
    }

    /// Fails naming the processes that sent a heartbeat recently.
    static func refuseIfInUse(_ store: any JobStore, name: String) throws {
        let now = Date()
        let live = try store.processList().filter { now.timeIntervalSince($0.heartbeatAt) < recentHeartbeat }
        guard live.isEmpty else {
            let names = live.map { "\($0.host) pid \($0.pid)" }.joined(separator: ", ")
            throw CrescentError.failed("a runner is using \(name) (\(names)); stop every runner on both databases, then copy")
        }
    }
}
