import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore

struct JobsCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "jobs", abstract: "List jobs, newest first.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Only jobs in this state.") var state: String?
    @Option(help: "Only jobs of this task.") var task: String?
    @Option(help: "Only jobs of this queue.") var queue: String?
    @Option(help: "Only jobs whose args or error contain this text (case-insensitive).") var search: String?
    @Option(help: "At most N jobs.") var limit: Int = 50
    @Flag(help: "One JSON object per line.") var json = false

    func execute() throws {
        let config = try options.load()
        var jobState: JobState?
        if let state {
            guard let s = JobState(rawValue: state) else {
                throw CrescentError.usage("unknown state \"\(state)\" (one of \(JobState.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            jobState = s
        }
        guard limit > 0 else { throw CrescentError.usage("--limit must be at least 1") }
        if search?.isEmpty == true { throw CrescentError.usage("--search needs a text") }
        let store = try config.openExistingStore()
        let jobs: [Job]
        do {
            var params = JobListParams(state: jobState, task: task, queue: queue, limit: limit)
            params.search = search
            jobs = try store.jobList(params)
        } catch {
            throw CrescentError.failed("cannot list jobs: \(error)")
        }
        if json {
            for job in jobs { Output.json(job.json()) }
            return
        }
        JobsListing.print(jobs, runs: { (try? store.jobRuns(id: $0)) ?? [] })
    }

    /// `40%`, or the count done without a total: the table's column.
    static func shortProgress(_ p: JobProgress) -> String {
        p.percent.map { "\($0)%" } ?? JobProgress.format(p.done)
    }
}

struct JobCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "Show one job with every run.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "The job id.") var id: Int64
    @Flag(help: "Print JSON.") var json = false

    func execute() throws {
        let config = try options.load()
        let store = try config.openExistingStore()
        let found: Job?
        let runs: [JobRun]
        do {
            found = try store.jobGet(id: id)
            runs = try store.jobRuns(id: id)
        } catch {
            throw CrescentError.failed("cannot read job \(id): \(error)")
        }
        guard let job = found else { throw CrescentError.notFound("no job with id \(id)") }
        if json {
            var object = job.json()
            if case .object(var o) = object {
                o["runs"] = .array(runs.map { $0.json() })
                object = .object(o)
            }
            Output.json(object)
            return
        }
        let fields: [(String, String)] = [
            ("id", String(job.id)), ("task", job.task), ("queue", job.queue), ("priority", String(job.priority)),
            ("state", job.state.rawValue), ("args", job.args), ("attempt", "\(job.attempt) of \(job.maxAttempts)"),
            ("result", job.result ?? "-"),
            ("error", job.error.map { e in runs.last?.error == e ? "(run #\(runs.last!.attempt) below)" : e } ?? "-"),
            ("unique_key", job.uniqueKey ?? "-"),
            ("scheduled_for", job.scheduledFor.map(TimeText.format) ?? "-"), ("run_at", TimeText.format(job.runAt)),
            ("created_at", TimeText.format(job.createdAt)), ("finished_at", job.finishedAt.map(TimeText.format) ?? "-"),
            ("progress", job.progress.map { "\($0.summary)  at \(TimeText.format($0.at))" } ?? "-"),
        ]
        for (k, v) in fields { Output.line(k.padding(toLength: 14, withPad: " ", startingAt: 0) + v) }
        Output.line("")
        Output.line("runs:")
        for run in runs {
            Output.line("  #\(run.attempt) \(run.outcome?.rawValue ?? "running")  started \(TimeText.format(run.startedAt))"
                + (run.finishedAt.map { "  finished \(TimeText.format($0))" } ?? "") + "  worker \(run.worker)")
            // The job's error is its last run's: shown once, with that run.
            if let error = run.error { Output.line("     error: \(error)") }
            // A traceback starts with the error again: that line is left out.
            if let tb = run.traceback {
                for l in tb.split(separator: "\n") where String(l) != run.error {
                    Output.line("     " + l.replacingOccurrences(of: "\t", with: "  "))
                }
            }
        }
    }
}
