import Metrics

/// The metrics the pipeline reports, in one place, over swift-metrics.
///
/// Until a backend is bootstrapped (`CrescentHTTP.HTTPServer.bootstrapMetrics()` does it for
/// Prometheus) every call is a no-op, so CLI commands and tests pay nothing.
///
/// | name | type | labels |
/// | --- | --- | --- |
/// | `crescent_jobs_finished_total` | counter | `task`, `queue`, `outcome` |
/// | `crescent_job_duration_seconds` | histogram | `task`, `queue` |
/// | `crescent_schedule_lag_seconds` | histogram | — |
/// | `crescent_busy_workers` | gauge | — |
/// | `crescent_worker_capacity` | gauge | — |
///
/// These are this process's own: counters of the attempts it finished since it started. The
/// database gauges (`crescent_jobs`, `crescent_queue_latency_seconds`, `crescent_processes`) are
/// read at scrape time by `CrescentHTTP`.
public enum CrescentMetrics {
    public static let jobsFinishedName = "crescent_jobs_finished_total"
    public static let jobDurationName = "crescent_job_duration_seconds"
    public static let scheduleLagName = "crescent_schedule_lag_seconds"
    public static let busyWorkersName = "crescent_busy_workers"
    public static let workerCapacityName = "crescent_worker_capacity"

    /// `# HELP` text of the families above (swift-metrics has no place for it).
    public static let help: [String: String] = [
        jobsFinishedName: "Attempts this process finished since it started, by task, queue and outcome.",
        jobDurationName: "How long the attempts this process finished ran, in seconds.",
        scheduleLagName: "How late this process turned schedule occurrences into jobs, in seconds.",
        busyWorkersName: "Jobs running in this process now.",
        workerCapacityName: "Jobs this process can run at once: the concurrency of the queues it serves, summed, capped by max_jobs.",
    ]

    /// One attempt ended: `outcome` is a run outcome (`succeeded`, `failed`, `snoozed`,
    /// `discarded`, `aborted`, `released`, `conflict`); `seconds` is how long the attempt ran.
    public static func jobFinished(task: String, queue: String, outcome: String, seconds: Double) {
        jobsFinished(task: task, queue: queue, outcome: outcome, seconds: [seconds])
    }

    /// Several attempts of one task and queue ended with the same outcome (a completion
    /// batch): one counter and one timer handle for all of them.
    public static func jobsFinished(task: String, queue: String, outcome: String, seconds: [Double]) {
        guard !seconds.isEmpty else { return }
        Counter(label: jobsFinishedName, dimensions: [("task", task), ("queue", queue), ("outcome", outcome)])
            .increment(by: Int64(seconds.count))
        let timer = Timer(label: jobDurationName, dimensions: [("task", task), ("queue", queue)])
        for s in seconds where s.isFinite && s >= 0 { timer.recordSeconds(s) }
    }

    /// How late a schedule occurrence was turned into a job (now − occurrence time).
    public static func scheduleLag(seconds: Double) {
        guard seconds.isFinite else { return }
        Recorder(label: scheduleLagName, aggregate: true).record(max(0, seconds))
    }

    /// Jobs running in this process right now.
    public static func busyWorkers(_ n: Int) {
        Gauge(label: busyWorkersName).record(n)
    }

    /// Jobs this process can run at once (beside `busyWorkers`).
    public static func workerCapacity(_ n: Int) {
        Gauge(label: workerCapacityName).record(n)
    }
}
