import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Logging

struct BenchCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Throughput and latency benchmark on a temporary database.")

    enum Mode: String, ExpressibleByArgument, CaseIterable { case noop, sleep }

    @OptionGroup var options: ConfigOption
    @Option(help: "Jobs to drain (default 10000).") var jobs: Int = 10_000
    @Option(help: "What each handler does: noop, or sleep (1s, non-blocking).") var mode: Mode = .noop
    @Option(help: "Queue concurrency (default 1000, or --jobs for sleep).") var concurrency: Int?
    @Option(help: "Lua VMs (default: the config's [workers] threads).") var threads: Int?
    @Option(help: "Jobs enqueued one at a time on an idle runner to measure enqueue→start latency (default 200).") var latencyJobs: Int = 200

    func execute() throws {
        guard jobs > 0, latencyJobs >= 0 else { throw CrescentError.usage("--jobs must be at least 1 and --latency-jobs at least 0") }
        let base = (try? options.load()) ?? Config(baseDir: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tasks = dir.appendingPathComponent("tasks")
        do {
            try FileManager.default.createDirectory(at: tasks, withIntermediateDirectories: true)
            let body = mode == .noop ? "" : "sleep(\"1s\")"
            try "return { handler = function(job) \(body) end }\n".write(to: tasks.appendingPathComponent("bench.lua"), atomically: true, encoding: .utf8)
        } catch {
            throw CrescentError.failed("cannot create the benchmark folder: \(error)")
        }
        var config = Config(baseDir: dir)
        config.threads = threads ?? base.threads
        config.memoryLimit = base.memoryLimit
        config.durability = base.durability
        let slots = concurrency ?? (mode == .noop ? 1000 : jobs)
        config.queues = [.init(name: "default", concurrency: slots)]
        LogSetup.bootstrap(format: .text, level: .error)
        let logger = Logger(label: "crescent")
        let store = try config.openStore()

        // 1. Enqueue in bulk.
        let t0 = Date()
        let chunk = 5000
        var left = jobs
        do {
            while left > 0 {
                let n = min(chunk, left)
                _ = try store.jobInsertMany(Array(repeating: JobInsertParams(task: "bench", maxAttempts: 1), count: n))
                left -= n
            }
        } catch {
            throw CrescentError.failed("enqueue failed: \(error)")
        }
        let enqueueSeconds = Date().timeIntervalSince(t0)

        // 2. Drain them with a runner limited to that many runs.
        let t1 = Date()
        let runner = Runner(config: config, options: .init(limit: jobs), logger: logger)
        _ = try runner.run()
        let drainSeconds = Date().timeIntervalSince(t1)

        // 3. Enqueue → start on an idle runner, one job at a time.
        var latencies: [Double] = []
        if latencyJobs > 0 {
            let idle = Runner(config: config, options: .init(limit: latencyJobs), logger: logger)
            let finished = DispatchSemaphore(value: 0)
            Thread.detachNewThread { _ = try? idle.run(); finished.signal() }
            Thread.sleep(forTimeInterval: 0.3)
            var ids: [Int64] = []
            for _ in 0..<latencyJobs {
                if let r = try? store.jobInsert(JobInsertParams(task: "bench", maxAttempts: 1)) { ids.append(r.id) }
                Thread.sleep(forTimeInterval: 0.005)
            }
            if finished.wait(timeout: .now() + 60) == .timedOut { idle.requestStop(); finished.wait() }
            for id in ids {
                if let job = try? store.jobGet(id: id), let run = try? store.jobRuns(id: id).first {
                    latencies.append(run.startedAt.timeIntervalSince(job.createdAt) * 1000)
                }
            }
            latencies.sort()
        }
        func pct(_ p: Double) -> String {
            guard !latencies.isEmpty else { return "-" }
            return String(format: "%.2f ms", latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))])
        }
        Output.line("crescent bench: \(jobs) \(mode.rawValue) jobs, threads=\(config.threads), concurrency=\(slots), cores=\(Foundation.ProcessInfo.processInfo.activeProcessorCount)")
        Output.line(String(format: "enqueue: %.0f jobs/s (%.3f s)", Double(jobs) / enqueueSeconds, enqueueSeconds))
        Output.line(String(format: "drain:   %.0f jobs/s (%.3f s)", Double(jobs) / drainSeconds, drainSeconds))
        Output.line("enqueue→start (idle runner, another writer): p50 \(pct(0.5)), p99 \(pct(0.99)) over \(latencies.count) jobs")
        Output.line("peak RSS: \(BenchCommand.peakRSS())")
    }

    /// VmHWM from /proc/self/status.
    static func peakRSS() -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return "unknown" }
        let kb = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        return String(format: "%.1f MB", Double(kb) / 1024)
    }
}
