import CrescentCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A store that cannot write, and a database file removed under a running runner (issue 19,
/// item 6), against the real binary.
@Suite(.serialized) struct StoreFailureTests {
    static func config(port: Int) -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 2
        lease = "2s"
        shutdown_timeout = "2s"
        [log]
        format = "json"
        level = "info"
        [http]
        listen = "127.0.0.1:\(port)"
        """
    }

    static func healthz(_ port: Int) -> Int {
        FuzzBinaryTests.request(URL(string: "http://127.0.0.1:\(port)/healthz")!, method: "GET", body: nil).status
    }

    static func shell(_ command: String) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// The project folder on an 8 MB tmpfs, filled up while jobs run: `/healthz` turns 503, and
    /// SIGTERM ends the runner within `shutdown_timeout` plus a few seconds, its log naming what
    /// it could not write.
    @Test(.enabled(if: TestStore.isSQLite, "SQLite only: fills the disk under the database file"))
    func fullDiskStopsInTime() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project()
        guard Self.shell("mount -t tmpfs -o size=8m tmpfs '\(p.dir.path)'") == 0 else {
            print("skipped: cannot mount an 8 MB tmpfs here (needs root)")
            return
        }
        defer { _ = Self.shell("umount -l '\(p.dir.path)'") }
        try p.write("crescent.toml", Self.config(port: port))
        try p.write("tasks/big.lua", """
            return {
              handler = function(job)
                sleep("3s")
                return string.rep("x", 200000)
              end,
            }
            """)
        for _ in 0..<4 { #expect(try p.run(["enqueue", "big"]).code == 0) }
        let runner = try OpsRunner(p)
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'running'") == 4 })
        #expect(waitFor(timeout: 30) { Self.healthz(port) == 200 })
        // Fill the disk: dd stops at ENOSPC.
        _ = Self.shell("dd if=/dev/zero of='\(p.dir.path)/fill' bs=64k")
        let unhealthy = waitFor(timeout: 30, every: 0.2) { Self.healthz(port) == 503 }
        // The jobs end and their outcomes cannot be written.
        let failing = waitFor(timeout: 30, every: 0.2) { runner.stderr.contains("completion failed") }
        runner.signal(SIGTERM)
        let signalled = Date()
        let code = runner.waitForExit(30)
        let took = Date().timeIntervalSince(signalled)
        let log = runner.stderr
        print("full disk: /healthz 503 \(unhealthy), completions failing \(failing), stopped in \(String(format: "%.1f", took)) s after SIGTERM (shutdown_timeout 2 s), exit \(code.map(String.init) ?? "none")")
        #expect(unhealthy, "/healthz turned 503")
        #expect(failing)
        #expect(code != nil, "the runner stopped within shutdown_timeout plus a few seconds")
        #expect(log.contains("could not write these outcomes") || log.contains("could not release running jobs"), "\(log.suffix(3000))")
        if code == nil { runner.signal(SIGKILL); _ = runner.waitForExit(10) }
    }

    /// The database files deleted under a running runner: it logs an error, `/healthz` turns
    /// 503, and it claims nothing more (not even from the fresh database a later `enqueue`
    /// creates at the same path).
    @Test(.enabled(if: TestStore.isSQLite, "SQLite only: deletes the database file"))
    func removedDatabaseIsNoticed() throws {
        let port = FuzzBinaryTests.freePort()
        let p = try Project(config: Self.config(port: port), tasks: [
            "quick.lua": "return { handler = function(job) return 1 end }",
        ])
        let runner = try OpsRunner(p)
        #expect(waitFor(timeout: 30) { Self.healthz(port) == 200 })
        #expect(try p.run(["enqueue", "quick"]).code == 0)
        #expect(waitFor(timeout: 30) { p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'succeeded'") == 1 })
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: p.databasePath + suffix) }

        let noticed = waitFor(timeout: 15, every: 0.1) { runner.stderr.contains("database file gone") }
        let unhealthy = waitFor(timeout: 15, every: 0.1) { Self.healthz(port) == 503 }
        #expect(noticed, "\(runner.stderr.suffix(2000))")
        #expect(unhealthy)
        #expect(try p.run(["enqueue", "quick"]).code == 0)
        // A few heartbeats later it is still unhealthy, and the new job was not run.
        let ran = waitFor(timeout: 3, every: 0.2) { p.sqlInt("SELECT count(*) FROM jobs WHERE state = 'succeeded'") > 0 }
        #expect(!ran)
        #expect(Self.healthz(port) == 503)
        runner.signal(SIGINT)
        #expect(runner.waitForExit(30) != nil)
        print("removed database: error logged \(noticed), /healthz 503 \(unhealthy), new job run \(ran)")
    }
}
