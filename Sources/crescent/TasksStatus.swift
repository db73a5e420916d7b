import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation

struct TasksCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "tasks", abstract: "Tasks loaded from the tasks dir, and files that failed to load.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    func execute() throws {
        let config = try options.load()
        let store = try config.openExistingStore()
        let (_, registry) = config.loadTasks(store: store)
        let doc = Reports.tasks(registry, store: store)
        if json { Output.json(doc); return }
        var tasks: [JSONValue] = []
        if case .array(let a)? = doc["tasks"] { tasks = a }
        func s(_ v: JSONValue?) -> String {
            switch v {
            case .string(let x)?: return x
            case .int(let i)?: return String(i)
            default: return "-"
            }
        }
        Output.table(["TASK", "QUEUE", "SCHEDULE", "NEXT FIRE", "UNIQUE", "TTL", "RETRY", "FILE"], tasks.map { t in
            let r = t["retry"]
            return [s(t["name"]), s(t["queue"]), s(t["schedule"]) + (s(t["timezone"]) == "UTC" || t["schedule"] == .null ? "" : " (\(s(t["timezone"])))"),
                    s(t["next_fire"]), s(t["unique"]), s(t["ttl"]), "\(s(r?["attempts"]))x \(s(r?["backoff"])) \(s(r?["delay"]))", s(t["file"])]
        })
        Self.printSchedules(tasks)
        Output.line("")
        var runners: [JSONValue] = []
        if case .array(let a)? = doc["runners"] { runners = a }
        Output.line("tasks version: \(registry.current.tasksVersion)" + Self.runnersLine(runners))
        let errors = registry.current.errors
        if !errors.isEmpty {
            Output.line("")
            Output.line("failed to load (\(errors.count)):")
            for e in errors { Output.line("  " + e.description) }
        }
    }
}

extension TasksCommand {
    /// One line per schedule: last fired, next fire, and what happened to occurrences that
    /// fell due while no runner was up.
    static func printSchedules(_ tasks: [JSONValue]) {
        var rows: [[String]] = []
        for t in tasks {
            guard case .array(let schedules)? = t["schedules"], !schedules.isEmpty else { continue }
            let name = t["name"]?.stringValue ?? "?"
            let disabled = t["enabled"] == .bool(false)
            for sc in schedules {
                let id = sc["id"]?.stringValue ?? ""
                let label = id.isEmpty ? name : (Int(id) != nil ? "\(name) #\(id)" : "\(name) \(id)")
                var missed: [String] = []
                if let overdue = sc["overdue_summary"]?.stringValue { missed.append("now: " + overdue) }
                if let c = sc["last_catch_up"], let summary = c["summary"]?.stringValue {
                    missed.append("last catch-up: \(summary) after \(c["from"]?.stringValue ?? "?")")
                }
                if missed.isEmpty { missed.append("none") }
                rows.append([label, sc["schedule"]?.stringValue ?? "", sc["args"]?.encoded() ?? "{}",
                             sc["last_fired"]?.stringValue ?? "-", disabled ? "disabled" : (sc["next_fire"]?.stringValue ?? "-"),
                             missed.joined(separator: "; ")])
            }
        }
        guard !rows.isEmpty else { return }
        Output.line("")
        Output.table(["SCHEDULE OF", "SCHEDULE", "ARGS", "LAST FIRED", "NEXT FIRE", "MISSED"], rows)
    }

    /// `; runners: host (version), …`, with a warning when they loaded different task files.
    static func runnersLine(_ runners: [JSONValue]) -> String {
        guard !runners.isEmpty else { return "; no runner registered" }
        let versions = Set(runners.compactMap { $0["tasks_version"]?.stringValue })
        let each = runners.map { "\($0["host"]?.stringValue ?? "?") pid \($0["id"]?.stringValue?.split(separator: ":").dropFirst().first ?? "?") (\($0["tasks_version"]?.stringValue ?? "?"))" }
        return "; runners: " + each.joined(separator: ", ")
            + (versions.count > 1 ? "\nWARNING: runners loaded \(versions.count) different task versions (a rollout in progress?)" : "")
    }
}

struct StatusCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Counts per queue and state, processes, next fires, recent throughput.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print JSON.") var json = false

    func execute() throws {
        let config = try options.load()
        let store = try config.openExistingStore()
        let (_, registry) = config.loadTasks(store: store)
        let doc: JSONValue
        do { doc = try Reports.status(registry, store: store, lease: config.lease) } catch { throw CrescentError.failed("cannot read status: \(error)") }
        if json { Output.json(doc); return }
        Output.line("store: \(doc["store"]?.stringValue ?? store.storeDescription)")
        Output.line("")
        let shown: [JobState] = [.scheduled, .queued, .running, .retrying, .succeeded, .dead, .cancelled, .expired]
        if case .object(let queues)? = doc["queues"], !queues.isEmpty {
            var paused: Set<String> = []
            if case .array(let names)? = doc["paused_queues"] { paused = Set(names.compactMap(\.stringValue)) }
            Output.table(["QUEUE"] + shown.map { $0.rawValue.uppercased() } + ["PAUSED"], queues.keys.sorted().map { q in
                [q] + shown.map { st in queues[q]?[st.rawValue].flatMap { $0.intValue }.map(String.init) ?? "0" }
                    + [paused.contains(q) ? "paused" : ""]
            })
        } else {
            Output.line("no jobs")
        }
        Output.line("")
        let f = doc["finished"]
        func n(_ v: JSONValue?) -> String { v?.intValue.map(String.init) ?? "0" }
        Output.line("finished: last minute \(n(f?["last_minute"]?["succeeded"])) succeeded, \(n(f?["last_minute"]?["failed"])) failed; "
            + "last hour \(n(f?["last_hour"]?["succeeded"])) succeeded, \(n(f?["last_hour"]?["failed"])) failed")
        Output.line("oldest queued job: " + (doc["oldest_queued_age_s"]?.doubleValue.map { DurationText.format($0) + " old" } ?? "none"))
        if case .object(let missing)? = doc["waiting_for_missing_task"], !missing.isEmpty {
            Output.line("waiting for a missing task: " + missing.keys.sorted().map { "\($0) (\(n(missing[$0])))" }.joined(separator: ", "))
        }
        Output.line("")
        if case .array(let procs)? = doc["processes"], !procs.isEmpty {
            Output.line("processes:")
            for p in procs {
                var queues = ""
                if case .array(let a)? = p["queues"] { queues = a.compactMap(\.stringValue).joined(separator: ",") }
                var lost = ""
                if let at = p["lost_at"]?.stringValue {
                    var ids: [String] = []
                    if case .array(let a)? = p["rescued_jobs"] { ids = a.compactMap(\.intValue).map(String.init) }
                    let count = p["rescued_count"]?.intValue ?? 0
                    lost = "  LOST at \(at): \(count) running job\(count == 1 ? "" : "s") rescued"
                        + (ids.isEmpty ? "" : " (\(ids.joined(separator: ","))\(Int64(ids.count) < count ? ",…" : ""))")
                } else if p["lost"] == .bool(true) {
                    lost = "  LOST: no heartbeat for " + DurationText.format((p["heartbeat_age_s"]?.doubleValue ?? 0).rounded())
                }
                let asked = (p["stop_requested"] == .bool(true) ? "  STOPPING" : "") + (p["quiet"] == .bool(true) ? "  QUIET" : "")
                let rss = p["rss_bytes"]?.intValue.map { "  rss \(ByteText.format($0))" } ?? ""
                let version = p["version"]?.stringValue.flatMap { $0.isEmpty ? nil : "  crescent \($0)" } ?? ""
                Output.line("  \(p["id"]?.stringValue ?? "")  host \(p["host"]?.stringValue ?? "")  busy \(n(p["busy"])) / \(n(p["capacity"]))  queues \(queues)  tasks \(p["tasks_version"]?.stringValue ?? "")" + version + rss + "  heartbeat \(p["heartbeat_at"]?.stringValue ?? "")" + lost + asked)
            }
            if case .array(let versions)? = doc["tasks_versions"], versions.count > 1 {
                Output.line("  WARNING: processes run \(versions.count) different task versions (\(versions.compactMap(\.stringValue).joined(separator: ", ")))")
            }
        } else {
            Output.line("processes: none running")
        }
        if case .array(let fires)? = doc["next_fires"], !fires.isEmpty {
            Output.line("")
            Output.line("next scheduled fires:")
            for fire in fires { Output.line("  \(fire["at"]?.stringValue ?? "")  \(fire["task"]?.stringValue ?? "")") }
        }
    }
}
