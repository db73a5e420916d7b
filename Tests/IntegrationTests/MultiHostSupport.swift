import CrescentCore
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Several "hosts" on this machine (issue 14): each a Linux network namespace joined to this
/// one by a veth pair (10.231.N.1 here, 10.231.N.2 inside), with a hostname of its own (a UTS
/// namespace), running `crescent run` against one PostgreSQL server that this harness starts
/// (scripts/pg-cluster.sh) on loopback and on the veth ends here. Only those addresses and
/// loopback are used. `tearDown` kills every process in the namespaces, deletes them and their
/// links and stops the server; leftovers of a killed test run are swept at the next start.
final class MultiHost: @unchecked Sendable {
    /// Why the harness cannot run here (printed, and the test cancelled: visible, not passed).
    struct Unavailable: Error, CustomStringConvertible { var description: String }

    final class Host: @unchecked Sendable {
        let index: Int
        let name: String          // hostname inside, e.g. "mh-host1"
        let namespace: String
        let link: String          // the veth end in this namespace
        let address: String       // its own address, e.g. 10.231.4.2
        let url: String           // the store URL it uses (the server's veth end)
        let project: Project
        var runner: HostRunner?
        init(index: Int, name: String, namespace: String, link: String, address: String, url: String, project: Project) {
            self.index = index; self.name = name; self.namespace = namespace; self.link = link
            self.address = address; self.url = url; self.project = project
        }
        /// The process id prefix of its runners (`host:pid:…`).
        var runnerPID: Int32? { runner?.pid }
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let prefix = "crh"

    let hosts: [Host]
    let clusterDir: String
    let port: Int
    let schema: String
    /// The store URL on loopback, for the CLI and psql in this namespace.
    let localURL: String
    /// A project in this namespace (same tasks as host 1) for `status`, `tasks`, `enqueue`.
    let local: Project
    private var tornDown = false

    /// `command` through /bin/sh → (exit code, stdout + stderr). Through `system` with output to
    /// a file: a server started by it lives on and would hold a pipe open.
    @discardableResult
    static func sh(_ command: String) -> (code: Int32, out: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("mh-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: file) }
        let status = system("(\(command)) >'\(file.path)' 2>&1 </dev/null")
        let code: Int32 = status == -1 ? -1 : (status >> 8) & 0xff
        return (code, (try? String(contentsOf: file, encoding: .utf8)) ?? "")
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// `ip`'s path, or nil (Debian's iproute2).
    static let ip: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Removes namespaces, links and clusters left by a test process that no longer runs.
    static func sweep() {
        guard let ip else { return }
        let names = sh("\(ip) netns list").out.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
        for ns in names where ns.hasPrefix(prefix) {
            // crh<pid>n<i>
            let pidText = ns.dropFirst(prefix.count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), kill(pid, 0) != 0 else { continue }
            killAll(in: ns)
            sh("\(ip) netns del \(ns)")
            sh("\(ip) link del \(ns)h")
        }
        let tmp = FileManager.default.temporaryDirectory
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: tmp.path)) ?? [] where entry.hasPrefix("crescent-mh-") {
            let pidText = entry.dropFirst("crescent-mh-".count).prefix { $0.isNumber }
            guard let pid = Int32(pidText), kill(pid, 0) != 0 else { continue }
            sh("/bin/bash \(quote(root.appendingPathComponent("scripts/pg-cluster.sh").path)) stop \(quote(tmp.appendingPathComponent(entry).path))")
        }
    }

    /// The processes in a namespace.
    static func pids(in ns: String) -> [Int32] {
        guard let ip else { return [] }
        return sh("\(ip) netns pids \(ns)").out.split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// SIGKILL to every process in a namespace; answers how many there were.
    @discardableResult
    static func killAll(in ns: String) -> Int {
        let list = pids(in: ns)
        for pid in list { kill(pid, SIGKILL) }
        return list.count
    }

    /// Creates `count` namespaces and the server; `config(url)` is each host's crescent.toml,
    /// `tasks(i)` its task files. Throws `Unavailable` when namespaces or the server cannot be had.
    /// `localConfig` (default `config`) is the loopback project's, for the CLI.
    init(count: Int = 3, config: (String) -> String, localConfig: ((String) -> String)? = nil, tasks: (Int) -> [String: String]) throws {
        Self.sweep()
        guard let ip = Self.ip else { throw Unavailable(description: "`ip` (iproute2) not found: apt-get install iproute2") }
        guard getuid() == 0 else { throw Unavailable(description: "network namespaces need root") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else {
            throw Unavailable(description: "/usr/bin/unshare (util-linux) not found: each host needs a hostname of its own")
        }
        let pid = getpid()
        // A /24 per host, 10.231.N.0, N picked from this process id so two test runs differ.
        let base = Int(pid % 80) * 3 + 1
        schema = "mh_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        var made: [(ns: String, link: String, subnet: Int)] = []
        func undo() {
            for m in made { Self.killAll(in: m.ns); Self.sh("\(ip) netns del \(m.ns)"); Self.sh("\(ip) link del \(m.link)") }
        }
        for i in 0..<count {
            let ns = "\(Self.prefix)\(pid)n\(i + 1)", link = ns + "h", inner = ns + "c"
            let n = base + i
            let steps = [
                "\(ip) netns add \(ns)",
                "\(ip) link add \(link) type veth peer name \(inner)",
                "\(ip) link set \(inner) netns \(ns)",
                "\(ip) addr add 10.231.\(n).1/24 dev \(link)",
                "\(ip) link set \(link) up",
                "\(ip) netns exec \(ns) ip addr add 10.231.\(n).2/24 dev \(inner)",
                "\(ip) netns exec \(ns) ip link set \(inner) up",
                "\(ip) netns exec \(ns) ip link set lo up",
            ]
            for (k, step) in steps.enumerated() {
                let r = Self.sh(step)
                if k == 0 && r.code == 0 { made.append((ns, link, n)) }
                if r.code != 0 {
                    undo()
                    throw Unavailable(description: "network namespaces cannot be set up here (`\(step)`: \(r.out.trimmingCharacters(in: .whitespacesAndNewlines)))")
                }
            }
        }
        clusterDir = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-mh-\(pid)-\(UUID().uuidString.prefix(6))").path
        port = FuzzBinaryTests.freePort()
        let addrs = made.map { "10.231.\($0.subnet).1" }.joined(separator: ",")
        let script = Self.root.appendingPathComponent("scripts/pg-cluster.sh").path
        let started = Self.sh("/bin/bash \(Self.quote(script)) start \(Self.quote(clusterDir)) \(port) \(addrs) 10.231.0.0/16")
        guard started.code == 0, let base = started.out.split(separator: "\n").last.map(String.init), base.hasPrefix("postgres") else {
            undo()
            Self.sh("/bin/bash \(Self.quote(script)) stop \(Self.quote(clusterDir))")
            throw Unavailable(description: "could not start a PostgreSQL cluster for the hosts: \(started.out.suffix(600))")
        }
        let localURL = base + "?schema=\(schema)"
        self.localURL = localURL
        var list: [Host] = []
        for (i, m) in made.enumerated() {
            let url = "postgres://postgres:crescent-test@10.231.\(m.subnet).1:\(port)/crescent_test?schema=\(schema)"
            let project = try Project(config: config(url), tasks: tasks(i))
            list.append(Host(index: i, name: "mh-host\(i + 1)", namespace: m.ns, link: m.link, address: "10.231.\(m.subnet).2",
                             url: url, project: project))
        }
        hosts = list
        let localText = localConfig.map { $0(localURL) } ?? config(localURL)
        local = try Project(config: localText, tasks: tasks(0))
    }

    deinit { tearDown() }

    /// Kills every process of every host, deletes the namespaces and links, stops the server.
    func tearDown() {
        guard !tornDown else { return }
        tornDown = true
        for h in hosts {
            Self.killAll(in: h.namespace)
            h.runner?.process.waitUntilExit()
            if let ip = Self.ip {
                Self.sh("\(ip) netns del \(h.namespace)")
                Self.sh("\(ip) link del \(h.link)")
            }
        }
        Self.sh("/bin/bash \(Self.quote(Self.root.appendingPathComponent("scripts/pg-cluster.sh").path)) stop \(Self.quote(clusterDir))")
    }

    // MARK: hosts

    /// Starts `crescent run` on host `i` (inside its namespace, with its hostname).
    @discardableResult
    func start(_ i: Int, _ extra: [String] = []) throws -> HostRunner {
        let h = hosts[i]
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.ip ?? "/usr/sbin/ip")
        p.arguments = ["netns", "exec", h.namespace, "/usr/bin/unshare", "--uts", "/bin/sh", "-c", "hostname \"$0\" && exec \"$@\"",
                       h.name, Project.binary.path, "run", "--config", h.project.dir.appendingPathComponent("crescent.toml").path] + extra
        p.currentDirectoryURL = h.project.dir
        let b = try HostRunner(p)
        h.runner = b
        return b
    }

    /// SIGINT to every host's runner still running (graceful stop); their exit codes.
    @discardableResult
    func stopRunners() -> [Int32] {
        hosts.compactMap { h in
            guard let r = h.runner, r.process.isRunning else { return nil }
            return r.interrupt(timeout: 30)
        }
    }

    /// SIGKILL to every process of host `i`; answers how many there were.
    @discardableResult
    func crash(_ i: Int) -> Int {
        let n = Self.killAll(in: hosts[i].namespace)
        hosts[i].runner?.process.waitUntilExit()
        return n
    }

    /// Cuts host `i`'s link (this end down: nothing passes either way) or restores it.
    func setLink(_ i: Int, up: Bool) {
        guard let ip = Self.ip else { return }
        let r = Self.sh("\(ip) link set \(hosts[i].link) \(up ? "up" : "down")")
        #expect(r.code == 0, "ip link set \(up ? "up" : "down"): \(r.out)")
    }

    /// The server down (fast shutdown) or up again on the same addresses.
    func server(up: Bool) -> (Int32, String) {
        Self.sh("/bin/bash \(Self.quote(Self.root.appendingPathComponent("scripts/pg-cluster.sh").path)) \(up ? "up" : "down") \(Self.quote(clusterDir))")
    }

    /// GET `url` with `Authorization: Bearer TOKEN` → (status, body); status -1 when it failed.
    static func get(_ url: String, bearer: String) -> (status: Int, body: String) {
        guard let u = URL(string: url) else { return (-1, "") }
        var req = URLRequest(url: u, timeoutInterval: 10)
        req.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
        final class Box: @unchecked Sendable { var status = -1; var body = "" }
        let box = Box(), done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: req) { data, response, _ in
            box.status = (response as? HTTPURLResponse)?.statusCode ?? -1
            box.body = data.map { String(decoding: $0, as: UTF8.self) } ?? ""
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 15)
        return (box.status, box.body)
    }

    // MARK: reading the store

    func rows(_ query: String, quiet: Bool = false) -> [String] {
        let out = PSQL.run(localURL, query, searchPath: schema)
        if !out.errors.isEmpty && !quiet { print("psql: \(out.errors)") }
        return out.rows
    }

    func int(_ query: String) -> Int { rows(query, quiet: true).first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0 }

    /// Inserts `n` queued jobs of `task` (args `{"i": k}`) in one statement.
    func insertJobs(_ task: String, _ n: Int, maxAttempts: Int = 5) {
        let now = Date().timeIntervalSince1970
        _ = rows("""
            INSERT INTO jobs (task, queue, state, args, attempt, max_attempts, run_at, created_at)
            SELECT '\(task)', 'default', 'queued', '{"i":' || i || '}', 0, \(maxAttempts), \(now), \(now)
            FROM generate_series(1, \(n)) AS i
            """)
        _ = rows("SELECT pg_notify('crescent_wake_\(schema)', 'default')")
    }

    /// `crescent ARGS` in this namespace, on the loopback URL.
    func cli(_ args: [String], timeout: Double = 30) throws -> Project.Result { try local.run(args, timeout: timeout) }

    /// The `processes` of `status --json` (nil when the command failed).
    func statusProcesses() throws -> [JSONValue]? {
        let r = try cli(["status", "--json"])
        guard r.code == 0, let doc = r.json else { return nil }
        return doc["processes"]?.array
    }

    /// The runner process id (`host:pid:…`) registered by host `i`, from the store.
    func processID(_ i: Int) -> String? {
        rows("SELECT id FROM processes WHERE host = '\(hosts[i].name)' ORDER BY started_at DESC LIMIT 1").first
    }

    /// Succeeded runs per job beyond one, jobs not succeeded, and runs ended `worker lost`, for `task`.
    func ledger(_ task: String) -> (jobs: Int, succeeded: Int, doubleCommitted: Int, workerLost: Int, runs: Int) {
        let jobs = int("SELECT count(*) FROM jobs WHERE task = '\(task)'")
        let succeeded = int("SELECT count(*) FROM jobs WHERE task = '\(task)' AND state = 'succeeded'")
        let doubles = int("""
            SELECT count(*) FROM (SELECT r.job_id FROM runs r JOIN jobs j ON j.id = r.job_id
            WHERE j.task = '\(task)' AND r.outcome = 'succeeded' GROUP BY r.job_id HAVING count(*) > 1) AS d
            """)
        let lost = int("SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = '\(task)' AND r.error = 'worker lost'")
        let runs = int("SELECT count(*) FROM runs r JOIN jobs j ON j.id = r.job_id WHERE j.task = '\(task)'")
        return (jobs, succeeded, doubles, lost, runs)
    }
}

/// A `crescent run` on a host, its log (stderr) readable while it runs.
final class HostRunner: @unchecked Sendable {
    let process: Process
    private let lock = NSLock()
    private var data = Data()
    private let closed = DispatchSemaphore(value: 0)
    private let stdout: ReadAll

    init(_ p: Process) throws {
        process = p
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        stdout = ReadAll(out)
        err.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            guard let self else { return }
            if chunk.isEmpty { handle.readabilityHandler = nil; closed.signal(); return }
            lock.withLock { data.append(chunk) }
        }
        try p.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// The log so far.
    var log: String { lock.withLock { String(decoding: data, as: UTF8.self) } }

    /// The whole log, once the process has exited (waits at most 10 s for the pipe to close).
    func finalLog() -> String {
        process.waitUntilExit()
        _ = closed.wait(timeout: .now() + 10)
        return log
    }

    /// SIGINT (graceful stop); SIGKILL after `timeout`; the exit code.
    func interrupt(timeout: Double = 30) -> Int32 {
        kill(pid, SIGINT)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}

/// Runs `body` on a fresh set of hosts, torn down afterwards whatever happens. Without
/// namespaces (or a server) the test is cancelled with the reason: reported as skipped, not passed.
func withHosts(count: Int = 3, config: (String) -> String, localConfig: ((String) -> String)? = nil, tasks: (Int) -> [String: String],
               _ body: (MultiHost) throws -> Void) throws {
    let hosts: MultiHost
    do {
        hosts = try MultiHost(count: count, config: config, localConfig: localConfig, tasks: tasks)
    } catch let e as MultiHost.Unavailable {
        print("multi-host test skipped: \(e.description)")
        try Test.cancel("multi-host test skipped: \(e.description)")
    }
    defer { hosts.tearDown() }
    try body(hosts)
}
