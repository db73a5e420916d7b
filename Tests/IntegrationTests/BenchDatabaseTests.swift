import CrescentCore
import Foundation
import Testing

/// `crescent bench --database URL`: the benchmark on a PostgreSQL server, in a schema of its
/// own that it drops at the end; a bad value is a usage error that never shows the password.
@Suite(.serialized) struct BenchDatabaseTests {
    static let postgresURL = ProcessInfo.processInfo.environment["CRESCENT_TEST_POSTGRES_URL"] ?? ""

    @Test func aBadDatabaseIsAUsageError() throws {
        let p = try Project()
        let path = try p.run(["bench", "--jobs", "10", "--database", "bench.db"], config: false)
        #expect(path.code == 2)
        #expect(path.stderr.contains("--database must be a postgres:// URL"), "\(path.stderr)")
        let bad = try p.run(["bench", "--jobs", "10", "--database", "postgres://bench:s3cret@127.0.0.1:1/app?pool_size=0"], config: false)
        #expect(bad.code == 2)
        #expect(bad.stderr.contains("--database: pool_size \"0\""), "\(bad.stderr)")
        #expect(!bad.stderr.contains("s3cret"), "\(bad.stderr)")
        let unreachable = try p.run(["bench", "--jobs", "10", "--database", "postgres://bench:s3cret@127.0.0.1:1/app"], config: false)
        #expect(unreachable.code == 2, "\(unreachable.stderr)")
        #expect(unreachable.stderr.contains("postgres://bench:***@127.0.0.1:1/app"), "\(unreachable.stderr)")
        #expect(!unreachable.stderr.contains("s3cret"), "\(unreachable.stderr)")
    }

    @Test(.enabled(if: !postgresURL.isEmpty, "needs PostgreSQL: set CRESCENT_TEST_POSTGRES_URL"))
    func benchOnPostgreSQLDropsItsSchema() throws {
        let p = try Project()
        let r = try p.run(["bench", "--jobs", "500", "--latency-jobs", "5", "--process-jobs", "2", "--threads", "2",
                           "--database", Self.postgresURL], config: false, timeout: 300)
        print(r.stdout)
        #expect(r.code == 0, "\(r.stderr)")
        for needle in ["store: postgres postgres://", "enqueue:", "drain:", "other processes (crescent enqueue)"] {
            #expect(r.stdout.contains(needle), "bench output lacks \(needle):\n\(r.stdout)")
        }
        #expect(!r.stdout.contains("FAILED"), "\(r.stdout)")
        let line = r.stdout.split(separator: "\n").first { $0.hasPrefix("store: ") }.map(String.init) ?? ""
        let schema = try #require(line.range(of: "schema=bench_").map { String(line[line.index($0.lowerBound, offsetBy: 7)...]) })
        #expect(schema.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }, "\(schema)")
        let psql = Process()
        psql.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        psql.arguments = ["psql", String(Self.postgresURL.split(separator: "?")[0]), "-Atc",
                          "SELECT count(*) FROM pg_namespace WHERE nspname = '\(schema)'"]
        let out = Pipe()
        psql.standardOutput = out
        psql.standardError = FileHandle.nullDevice
        try psql.run()
        let answer = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        psql.waitUntilExit()
        guard psql.terminationStatus == 0 else { print("schema check skipped: psql not available"); return }
        #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "schema \(schema) was not dropped")
    }
}
