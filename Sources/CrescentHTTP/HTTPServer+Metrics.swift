import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Hummingbird
import Metrics
import Prometheus

extension HTTPServer {
    private static let metricsRegistry = LockedBox<PrometheusCollectorRegistry?>(nil)

    /// Histogram buckets of `crescent_job_duration_seconds`: 1 ms to 30 minutes.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
        .seconds(600), .seconds(1800),
    ]

    /// Histogram buckets of `crescent_schedule_lag_seconds`: 10 ms to an hour.
    static let lagBuckets: [Double] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600]

    /// Installs the Prometheus backend for swift-metrics (so `CrescentMetrics` reports into
    /// it) and returns its registry. Safe to call more than once: the first call bootstraps,
    /// later ones return the same registry. Must be the process's only `MetricsSystem` bootstrap.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        metricsRegistry.withValue { stored in
            if let stored { return stored }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets = [CrescentMetrics.jobDurationName: durationBuckets]
            factory.valueHistogramBuckets = [CrescentMetrics.scheduleLagName: lagBuckets]
            MetricsSystem.bootstrap(factory)
            stored = registry
            CrescentMetrics.busyWorkers(0)
            registry.makeGauge(name: "crescent_build_info", labels: [("version", CrescentVersion.current)],
                               help: "Always 1; the version label names this binary's version.").set(Double(1))
            return registry
        }
    }

    func addOpsRoutes(to router: Router<BasicRequestContext>) {
        router.get("/metrics") { _, _ in
            let store = self.store
            let now = Date()
            let (counts, oldest, processes, paused) = try await self.readIO {
                (try store.jobCounts(), try store.oldestDuePerQueue(now: now), try store.processList(includingLost: true),
                 try store.queuesPaused())
            }
            let queues = self.jobGauges.update(counts, declared: self.config.queues.map(\.name), registry: self.metrics)
            self.jobGauges.updateLatency(oldest, queues: queues, now: now, registry: self.metrics)
            self.jobGauges.updateProcesses(processes, lease: self.config.lease, now: now, registry: self.metrics)
            self.pausedGauges.update(paused: Set(paused.keys), known: self.config.queues.map(\.name) + counts.map(\.queue),
                                     registry: self.metrics)
            return Response.text(MetricsText.withHelp(self.metrics.emitToString()),
                                 contentType: "text/plain; version=0.0.4; charset=utf-8")
        }

        router.get("/healthz") { _, _ in
            let check = self.healthCheck
            do {
                try await self.io { try check() }
            } catch {
                throw HTTPFailure(.serviceUnavailable, "database unreachable: \(HTTPFailure.from(error).message)")
            }
            return Response.json(.object(["status": .string("ok")]))
        }
    }
}

/// `crescent_jobs{queue,state}`, computed at scrape time from the store's counts. Every
/// state of every known queue is emitted (0 when empty), and a queue that had jobs before
/// keeps reporting 0 rather than its last count.
final class JobGauges: Sendable {
    static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "crescent", metricName: "jobs", unitName: "", helpText: "Jobs per queue and state, counted at scrape time.")
    }
    private let seenQueues = LockedBox<Set<String>>([])

    static var latencyDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "crescent", metricName: "queue_latency", unitName: "seconds",
                             helpText: "Age of the oldest due job per queue (0 when none waits), read at scrape time.")
    }
    static var processesDescriptor: MetricNameDescriptor {
        MetricNameDescriptor(namespace: "crescent", metricName: "processes", unitName: "",
                             helpText: "Runner processes registered in the database: alive, or lost (no heartbeat within the lease, or rescued within the hour).")
    }

    /// Sets `crescent_jobs`; returns every queue known so far (declared, or seen with jobs).
    @discardableResult
    func update(_ counts: [QueueStateCount], declared: [String], registry: PrometheusCollectorRegistry) -> Set<String> {
        var byQueue: [String: [JobState: Int]] = [:]
        for q in declared { byQueue[q] = [:] }
        for c in counts { byQueue[c.queue, default: [:]][c.state, default: 0] += c.count }
        let queues = seenQueues.withValue { seen -> Set<String> in
            seen.formUnion(byQueue.keys)
            return seen
        }
        for queue in queues {
            for state in JobState.allCases {
                registry.makeGauge(descriptor: Self.descriptor, labels: [("queue", queue), ("state", state.rawValue)])
                    .set(Double(byQueue[queue]?[state] ?? 0))
            }
        }
        return queues
    }

    /// `crescent_queue_latency_seconds{queue}`: now − the earliest `run_at` of a due job.
    func updateLatency(_ oldest: [String: Date], queues: Set<String>, now: Date, registry: PrometheusCollectorRegistry) {
        for queue in queues.union(oldest.keys) {
            let age = oldest[queue].map { max(0, now.timeIntervalSince($0)) } ?? 0
            registry.makeGauge(descriptor: Self.latencyDescriptor, labels: [("queue", queue)]).set(age)
        }
    }

    /// `crescent_processes{state}`: `alive` and `lost` (heartbeat older than `lease`, or rescued by
    /// another process within the last hour), both always present.
    func updateProcesses(_ processes: [WorkerProcess], lease: Double, now: Date, registry: PrometheusCollectorRegistry) {
        let processes = processes.filter { $0.isListed(at: now) }
        let lost = processes.filter { $0.lostAt != nil || now.timeIntervalSince($0.heartbeatAt) > lease }.count
        registry.makeGauge(descriptor: Self.processesDescriptor, labels: [("state", "alive")]).set(Double(processes.count - lost))
        registry.makeGauge(descriptor: Self.processesDescriptor, labels: [("state", "lost")]).set(Double(lost))
    }
}

/// The exposition text with a `# HELP` line before every `# TYPE` line that lacks one (the
/// swift-metrics families carry none): `promtool check metrics` asks for both.
enum MetricsText {
    static func withHelp(_ text: String, help: [String: String] = CrescentMetrics.help) -> String {
        var out: [Substring] = []
        var lastHelp: Substring?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst(7).split(separator: " ").first ?? ""
                if lastHelp != name {
                    out.append(Substring("# HELP \(name) " + (help[String(name)] ?? "Crescent metric \(name).")))
                }
            }
            lastHelp = line.hasPrefix("# HELP ") ? line.dropFirst(7).split(separator: " ").first : nil
            out.append(line)
        }
        return out.joined(separator: "\n")
    }
}
