import ArgumentParser
import CrescentCore
import CrescentRuntime
import CrescentStore
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// `crescent bench`: throughput and latency on a temporary database, with the real runner
/// (SQLite in WAL, or a fresh schema on a PostgreSQL server with `--database`; Lua handlers,
/// a run row per attempt).
///
/// 1. Enqueue in bulk: one handler calls `queue.push` `--jobs` times; its pushes commit with its success.
/// 2. Drain: a runner with `run --limit` semantics runs them all (`--mode` says what each does).
/// 3. Latency on an idle runner, enqueue → start (the run's start minus the job's creation):
///    through the in-process API (as the HTTP API does), from another connection of this
///    process, and from other processes (`crescent enqueue`).
struct BenchCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Throughput and latency benchmark on a temporary database.")

    enum Mode: String, ExpressibleByArgument, CaseIterable { case noop, sleep, http }

    @OptionGroup var options: ConfigOption
    @Option(help: "Jobs to enqueue and drain.") var jobs: Int = 10_000
    @Option(help: "What each handler does: noop; sleep (sleep(\"1s\")); http (http.get of a local server answering after 300 ms).")
    var mode: Mode = .noop
    @Option(help: "Queue concurrency (default 1000 for noop, else --jobs).") var concurrency: Int?
    @Option(help: "Lua VMs (default: the config's [workers] threads).") var threads: Int?
    @Option(help: "Jobs enqueued one at a time on an idle runner, per in-process path, to measure enqueue→start latency (0 skips).")
    var latencyJobs: Int = 200
    @Option(help: "Jobs enqueued by separate `crescent enqueue` processes for the cross-process latency (default 20).")
    var processJobs: Int = 20
    @Option(help: "A postgres:// URL: run in a fresh schema bench_<random> on that server, dropped at the end (default: a temporary SQLite file).")
    var database: String?

    func execute() throws {
        guard jobs > 0, latencyJobs >= 0, processJobs >= 0 else {
            throw CrescentError.usage("--jobs must be at least 1, --latency-jobs and --process-jobs at least 0")
        }
        guard jobs <= SizeLimits.pushesPerAttempt else {  // one handler pushes them all
            throw CrescentError.usage("--jobs must be at most \(SizeLimits.pushesPerAttempt) (the pushes one attempt may make)")
        }
        let postgres = try database.map(Self.benchSchemaURL)
        let base = (try? options.load()) ?? Config(baseDir: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }

        var peer: SlowHTTPPeer?
        if mode == .http {
            do { peer = try SlowHTTPPeer(delay: 0.3) } catch { throw CrescentError.failed("cannot start the local HTTP server: \(error)") }
        }
        defer { peer?.stop() }

        let tasks = dir.appendingPathComponent("tasks")
        let body: String
        switch mode {
        case .noop: body = ""
        case .sleep: body = "sleep(\"1s\")"
        case .http: body = "local r = http.get(env.BENCH_URL) if r.status ~= 200 then error(\"status \" .. r.status) end"
        }
        do {
            try FileManager.default.createDirectory(at: tasks, withIntermediateDirectories: true)
            try "return { handler = function(job) \(body) end }\n".write(to: tasks.appendingPathComponent("bench.lua"), atomically: true, encoding: .utf8)
            try """
                return { handler = function(job)
                  for i = 1, job.args.n do queue.push("bench", {}) end
                end }

                """.write(to: tasks.appendingPathComponent("fan.lua"), atomically: true, encoding: .utf8)
            // A PostgreSQL URL reaches the `crescent enqueue` children through the environment,
            // so its password is never written to a file.
            try """
                database = "\(postgres == nil ? "bench.db" : "${\(Self.databaseVariable)}")"
                [log]
                level = "error"

                """.write(to: dir.appendingPathComponent("crescent.toml"), atomically: true, encoding: .utf8)
        } catch {
            throw CrescentError.failed("cannot create the benchmark folder: \(error)")
        }
        var config = Config(baseDir: dir)
        config.database = postgres ?? dir.appendingPathComponent("bench.db").path
        config.threads = threads ?? base.threads
        config.memoryLimit = base.memoryLimit
        config.durability = base.durability
        let slots = concurrency ?? (mode == .noop ? 1000 : jobs)
        config.queues = [.init(name: "default", concurrency: slots)]
        config.maxConnectionsPerHost = max(slots, 1)
        if let peer { config.env["BENCH_URL"] = "http://127.0.0.1:\(peer.port)/" }
        LogSetup.bootstrap(format: .text, level: .error)
        let logger = Logger(label: "crescent")
        let store = try config.openStore()
        // The benchmark's schema goes with it, whatever happens (the runners' stores are gone by then).
        defer { Self.dropSchema(of: store) }

        let durability = config.isPostgres ? "the server's synchronous_commit" : config.durability == .full ? "full" : "normal"
        let progress = BenchProgress()
        Output.line("crescent bench: \(jobs) \(mode.rawValue) jobs, threads=\(config.threads), concurrency=\(slots), "
            + "durability=\(durability), cores=\(Foundation.ProcessInfo.processInfo.activeProcessorCount)")
        Output.line("store: \(store.storeDescription)")

        // 1. Enqueue in bulk: queue.push in a loop inside one handler, committed with its success.
        let fan: JobInsertResult
        do {
            fan = try store.jobInsert(JobInsertParams(task: "fan", args: "{\"n\":\(jobs)}", maxAttempts: 1))
        } catch {
            throw CrescentError.failed("enqueue failed: \(error)")
        }
        // The pushes are enqueued once the handler's success committed: watch for it from this
        // thread (another connection), so the runner's shutdown is not counted.
        let fanRunner = Runner(config: config, options: .init(limit: 1), logger: logger)
        let fanDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread { _ = try? fanRunner.run(); fanDone.signal() }
        var fanEnd: Date?
        let fanDeadline = Date().addingTimeInterval(600)
        while fanEnd == nil && Date() < fanDeadline {
            progress.show("enqueueing \(jobs) jobs")
            if let job = try? store.jobGet(id: fan.id), job.state != .running && job.state != .queued {
                fanEnd = Date()
            } else {
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        fanDone.wait()
        guard let fanEnd, let fanJob = try? store.jobGet(id: fan.id), fanJob.state == .succeeded,
              let fanRun = try? store.jobRuns(id: fan.id).last else {
            throw CrescentError.failed("the fan-out handler did not succeed")
        }
        let enqueueSeconds = fanEnd.timeIntervalSince(fanRun.startedAt)
        progress.clear()
        Output.line(String(format: "enqueue: %.0f jobs/s (%.3f s; queue.push in one handler, committed with its success)",
                           Double(jobs) / enqueueSeconds, enqueueSeconds))

        // 2. Drain them with a runner limited to that many runs. Jobs are claimed in id order:
        // the drain ends when the last one's outcome is committed (watched from this thread;
        // the runner's start-up counts, its shutdown does not).
        let lastID = (try? store.jobList(JobListParams(task: "bench", limit: 1)).first?.id) ?? nil
        let t1 = Date()
        let runner = Runner(config: config, options: .init(limit: jobs), logger: logger)
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread { _ = try? runner.run(); drained.signal() }
        var drainEnd: Date?
        while drainEnd == nil {
            if drained.wait(timeout: .now() + .milliseconds(5)) == .success { drainEnd = Date(); drained.signal(); break }
            if let lastID, let job = try? store.jobGet(id: lastID), job.state != .running && job.state != .queued { drainEnd = Date() }
            progress.show("draining \(jobs) jobs")
        }
        drained.wait()
        let drainSeconds = drainEnd!.timeIntervalSince(t1)
        let runnerSeconds = Date().timeIntervalSince(t1)
        let drainRSS = BenchCommand.peakRSS()
        let failed = (try? store.jobCount(JobListParams(state: .dead, task: "bench"))) ?? 0
        progress.clear()
        Output.line(String(format: "drain:   %.0f jobs/s (%.3f s, runner start-up included; %.3f s with its shutdown)%@",
                           Double(jobs) / drainSeconds, drainSeconds, runnerSeconds, failed > 0 ? " — some jobs FAILED" : ""))

        // 3. Enqueue → start on an idle runner.
        var api: [Double] = [], connection: [Double] = [], process: [Double] = []
        if latencyJobs > 0 || processJobs > 0 {
            progress.note("measuring enqueue→start latency")
            (api, connection, process) = try measureLatency(config: config, store: store, dir: dir, logger: logger,
                                                            environment: postgres.map { [Self.databaseVariable: $0] } ?? [:])
        }

        func pct(_ values: [Double], _ p: Double) -> String {
            guard !values.isEmpty else { return "-" }
            return String(format: "%.2f ms", values[min(values.count - 1, Int(Double(values.count) * p))])
        }
        func line(_ name: String, _ values: [Double]) {
            Output.line("enqueue→start, \(name): p50 \(pct(values, 0.5)), p99 \(pct(values, 0.99)) over \(values.count) jobs")
        }
        progress.clear()
        line("in-process API (enqueue + wake)", api)
        line("another connection of this process", connection)
        line("other processes (crescent enqueue)", process)
        Output.line("peak RSS: \(drainRSS) after the drain, \(BenchCommand.peakRSS()) at the end")
    }

    /// Latencies in ms for the three paths, each job enqueued alone on an idle runner.
    private func measureLatency(config: Config, store: any JobStore, dir: URL, logger: Logger,
                                environment: [String: String]) throws -> ([Double], [Double], [Double]) {
        let idle = Runner(config: config, options: .init(limit: 2 * latencyJobs + processJobs), logger: logger)
        let contextBox = ContextBox()
        idle.frontEnd = { context in
            contextBox.set(context)
            return {}
        }
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread { _ = try? idle.run(); finished.signal() }
        guard let context = contextBox.wait(timeout: 30) else {
            idle.requestStop()
            throw CrescentError.failed("the idle runner did not start")
        }
        Thread.sleep(forTimeInterval: 0.2)

        var apiIDs: [Int64] = [], connectionIDs: [Int64] = [], processIDs: [Int64] = []
        for _ in 0..<latencyJobs {
            if let r = try? context.enqueuer.enqueue(.init(task: "bench")) { apiIDs.append(r.id); context.wake() }
            Thread.sleep(forTimeInterval: 0.01)
        }
        for _ in 0..<latencyJobs {
            if let r = try? store.jobInsert(JobInsertParams(task: "bench", maxAttempts: 1)) { connectionIDs.append(r.id) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        for _ in 0..<processJobs {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: exe)
            child.arguments = ["enqueue", "bench", "--config", dir.appendingPathComponent("crescent.toml").path]
            child.environment = Foundation.ProcessInfo.processInfo.environment.merging(environment) { $1 }
            let out = Pipe()
            child.standardOutput = out
            do { try child.run() } catch { break }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            child.waitUntilExit()
            if let id = Int64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) { processIDs.append(id) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        if finished.wait(timeout: .now() + 60) == .timedOut { idle.requestStop(); finished.wait() }

        func latencies(_ ids: [Int64]) -> [Double] {
            ids.compactMap { id -> Double? in
                guard let job = try? store.jobGet(id: id), let run = try? store.jobRuns(id: id).first else { return nil }
                return run.startedAt.timeIntervalSince(job.createdAt) * 1000
            }.sorted()
        }
        return (latencies(apiIDs), latencies(connectionIDs), latencies(processIDs))
    }

    /// VmHWM from /proc/self/status.
    static func peakRSS() -> String {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return "unknown" }
        let kb = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        return String(format: "%.1f MB", Double(kb) / 1024)
    }
}

/// Hands the idle runner's context to the benchmark thread.
private final class ContextBox: @unchecked Sendable {
    private let condition = NSCondition()
    private var context: Runner.Context?

    func set(_ value: Runner.Context) {
        condition.lock()
        context = value
        condition.broadcast()
        condition.unlock()
    }

    func wait(timeout: Double) -> Runner.Context? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while context == nil && condition.wait(until: deadline) {}
        return context
    }
}

/// A local HTTP/1.1 server for `bench --mode http`: answers every request `200 ok` after
/// `delay` seconds, keeping connections open. One thread with `poll(2)` serves thousands of
/// connections, so the benchmark measures Crescent rather than the peer.
final class SlowHTTPPeer: @unchecked Sendable {
    let port: Int
    private let delay: Double
    private let listener: Int32
    private let stopLock = NSLock()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    init(delay: Double) throws {
        self.delay = delay
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CrescentError.failed("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4096) == 0 else { close(fd); throw CrescentError.failed("bind/listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        listener = fd
        let thread = Thread { [self] in serve(); done.signal() }
        thread.name = "crescent-bench-http"
        thread.start()
    }

    func stop() {
        stopLock.lock()
        stopping = true
        stopLock.unlock()
        done.wait()
    }

    private var isStopping: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopping
    }

    private func serve() {
        var buffers: [Int32: [UInt8]] = [:]
        var due: [(time: Double, fd: Int32)] = []  // answers to send, in time order
        let response = Array("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok".utf8)
        var chunk = [UInt8](repeating: 0, count: 16384)
        let end = Array("\r\n\r\n".utf8)
        while !isStopping {
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for fd in buffers.keys { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            let now = Self.monotonic()
            let wait = due.first.map { max(0, Int32(($0.time - now) * 1000)) } ?? 50
            _ = poll(&fds, nfds_t(fds.count), min(wait, 50))
            for p in fds where p.revents != 0 {
                if p.fd == listener {
                    while true {
                        let c = accept(listener, nil, nil)
                        if c < 0 { break }
                        _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
                        var one: Int32 = 1
                        setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                        buffers[c] = []
                    }
                    continue
                }
                let n = read(p.fd, &chunk, chunk.count)
                if n <= 0 {
                    if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) {
                        close(p.fd)
                        buffers.removeValue(forKey: p.fd)
                        due.removeAll { $0.fd == p.fd }
                    }
                    continue
                }
                var buffer = buffers[p.fd] ?? []
                buffer.append(contentsOf: chunk[0..<n])
                // Requests without bodies (GET): each header block ending in a blank line is one request.
                while let range = Self.find(end, in: buffer) {
                    buffer.removeSubrange(0..<range)
                    due.append((Self.monotonic() + delay, p.fd))
                }
                buffers[p.fd] = buffer
            }
            let time = Self.monotonic()
            var sent = 0
            for item in due {
                guard item.time <= time else { break }
                sent += 1
                if buffers[item.fd] != nil { _ = response.withUnsafeBytes { write(item.fd, $0.baseAddress, $0.count) } }
            }
            if sent > 0 { due.removeFirst(sent) }
        }
        for fd in buffers.keys { close(fd) }
        close(listener)
    }

    /// The index just past the first occurrence of `pattern`, if any.
    private static func find(_ pattern: [UInt8], in buffer: [UInt8]) -> Int? {
        guard buffer.count >= pattern.count else { return nil }
        var i = 0
        while i + pattern.count <= buffer.count {
            if buffer[i] == pattern[0] && Array(buffer[i..<(i + pattern.count)]) == pattern { return i + pattern.count }
            i += 1
        }
        return nil
    }

    private static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
