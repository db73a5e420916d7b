import CrescentCore
import Foundation
import Testing

/// Logs of `crescent run` (SPEC §1 `[log]`, `-v`/`-vv`): JSON lines or text on stderr.
@Suite(.serialized) struct OperationsLogTests {
    static func config(format: String, level: String) -> String {
        """
        database = "jobs.db"
        [workers]
        threads = 1
        [log]
        format = "\(format)"
        level = "\(level)"
        """
    }

    static let tasks = [
        "ok.lua": "return { handler = function(job) log.info('inside', { n = job.args.n }); return true end }\n",
        "bad.lua": "return { retry = { attempts = 2, delay = '10ms', jitter = 0 }, handler = function(job) error('kaput') end }\n",
    ]

    /// Every stderr line is one JSON object with ts, level, msg first; job start and finish at
    /// debug, failures at warn, with task, job id, attempt, duration and error.
    @Test func jsonLinesCarryJobLifecycle() throws {
        let project = try Project(config: Self.config(format: "json", level: "info"), tasks: Self.tasks)
        let ok = try project.opsEnqueue("ok", ["--args", #"{"n": 7}"#])
        let bad = try project.opsEnqueue("bad")
        let run = try project.run(["run", "--limit", "3", "-v"])
        #expect(run.code == 0)
        let lines = run.stderr.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        var logs: [JSONValue] = []
        for line in lines {
            #expect(line.hasPrefix("{\"ts\":") && line.hasSuffix("}"), "not a JSON line: \(line)")
            let value = try? JSONValue.decode(line)
            #expect(value != nil, "does not parse: \(line)")
            if let value { logs.append(value) }
        }
        for entry in logs {
            #expect(entry["ts"]?.stringValue.flatMap { try? TimeText.parse($0) } != nil, "\(entry)")
            #expect(["trace", "debug", "info", "warn", "error"].contains(entry["level"]?.stringValue ?? ""), "\(entry)")
            #expect(entry["msg"]?.stringValue?.isEmpty == false)
        }
        #expect(!logs.contains { $0["level"] == .string("trace") }, "-v is debug, not trace")

        func about(_ id: Int64) -> [JSONValue] { logs.filter { $0["job.id"] == .int(id) } }
        // The success: started and finished at debug, with a duration; the handler's own line carries the job.
        let okLogs = about(ok)
        let started = okLogs.first { $0["msg"] == .string("job started") }
        #expect(started?["level"] == .string("debug"))
        #expect(started?["task"] == .string("ok"))
        #expect(started?["attempt"] == .int(1), "ids, attempts and durations are JSON numbers")
        let finished = okLogs.first { $0["msg"] == .string("job succeeded") }
        #expect(finished?["level"] == .string("debug"), "\(okLogs)")
        #expect(finished?["duration_ms"]?.intValue != nil)
        let inside = okLogs.first { $0["msg"] == .string("inside") }
        #expect(inside?["level"] == .string("info"), "\(okLogs)")
        #expect(inside?["task"] == .string("ok"))
        #expect(inside?["n"]?.intValue == 7 || inside?["n"]?.stringValue == "7", "\(String(describing: inside))")

        // The failures: each at warn with the error, the attempt and the duration; the last says so.
        let failures = about(bad).filter { $0["level"] == .string("warn") }
        #expect(failures.count == 2, "\(about(bad))")
        for (i, f) in failures.enumerated() {
            #expect(f["task"] == .string("bad"))
            #expect(f["attempt"] == .int(Int64(i + 1)))
            #expect(f["error"]?.stringValue?.contains("kaput") == true)
            #expect(f["duration_ms"]?.intValue != nil)
        }
        #expect(failures.first?["retry_at"] != nil)
        #expect(failures.last?["msg"]?.stringValue?.contains("for good") == true, "\(failures)")
        #expect(about(bad).filter { $0["msg"] == .string("job started") }.count == 2)
    }

    /// The configured level filters; without -v, level "warn" shows failures but no debug or info.
    @Test func levelFromConfigAndVerbosityFlags() throws {
        let project = try Project(config: Self.config(format: "json", level: "warn"), tasks: Self.tasks)
        _ = try project.opsEnqueue("ok")
        _ = try project.opsEnqueue("bad")
        let quiet = try project.run(["run", "--limit", "3"])
        #expect(quiet.code == 0)
        let levels = Set(quiet.stderr.split(separator: "\n").compactMap { try? JSONValue.decode(String($0)) }.compactMap { $0["level"]?.stringValue })
        #expect(levels.isSubset(of: ["warn", "error"]), "\(quiet.stderr)")
        #expect(levels.contains("warn"))

        // -vv from warn: two steps, to debug.
        _ = try project.opsEnqueue("ok")
        let loud = try project.run(["run", "--limit", "1", "-vv"])
        #expect(loud.code == 0)
        let loudLevels = Set(loud.stderr.split(separator: "\n").compactMap { try? JSONValue.decode(String($0)) }.compactMap { $0["level"]?.stringValue })
        #expect(loudLevels.contains("debug"), "\(loud.stderr)")
        #expect(loudLevels.contains("info"))
    }

    /// `format = "text"`: one readable line per event, `key=value` metadata.
    @Test func textFormat() throws {
        let project = try Project(config: Self.config(format: "text", level: "debug"), tasks: Self.tasks)
        let bad = try project.opsEnqueue("bad")
        let run = try project.run(["run", "--limit", "2"])
        #expect(run.code == 0)
        let lines = run.stderr.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(!line.hasPrefix("{"), "text format printed JSON: \(line)")
            let ts = line.split(separator: " ").first.map(String.init) ?? ""
            #expect((try? TimeText.parse(ts)) != nil, "line does not start with a time: \(line)")
        }
        let failure = lines.first { $0.contains("WARN") && $0.contains("job.id=\(bad)") }
        #expect(failure != nil, "\(run.stderr)")
        #expect(failure?.contains("error=") == true)
        #expect(failure?.contains("kaput") == true)
        #expect(failure?.contains("task=bad") == true)
        #expect(failure?.contains("attempt=1") == true)
        #expect(failure?.contains("duration_ms=") == true)
        #expect(lines.contains { $0.contains("DEBUG") && $0.contains("job started") && $0.contains("job.id=\(bad)") })
    }
}
