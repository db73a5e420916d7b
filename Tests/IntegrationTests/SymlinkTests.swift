import CrescentCore
import Foundation
import Testing

/// Directory symlinks under `tasks/` are not followed: a loop (`ln -s . tasks/loop`, two links
/// pointing at each other) neither multiplies tasks nor makes `check` run forever.
@Suite(.serialized) struct SymlinkTests {
    @Test func loopsUnderTasksAreNotFollowed() throws {
        let p = try Project(config: Project.quietConfig, tasks: [
            "a.lua": "return { handler = function(job) return 1 end }",
            "sub/b.lua": "return { handler = function(job) return 2 end }",
        ])
        let tasks = p.dir.appendingPathComponent("tasks").path
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: outside) }
        try "return { handler = function(job) return 3 end }".write(to: outside.appendingPathComponent("c.lua"), atomically: true, encoding: .utf8)
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: tasks + "/loop", withDestinationPath: ".")
        try fm.createSymbolicLink(atPath: tasks + "/sub/up", withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: tasks + "/self1", withDestinationPath: "self2")
        try fm.createSymbolicLink(atPath: tasks + "/self2", withDestinationPath: "self1")
        try fm.createSymbolicLink(atPath: tasks + "/me", withDestinationPath: "me")
        try fm.createSymbolicLink(atPath: tasks + "/out", withDestinationPath: outside.path)

        let check = try p.run(["check"], timeout: 30)
        print("check: exit \(check.code), stdout \(check.stdout.debugDescription), stderr \(check.stderr.debugDescription)")
        #expect(check.code == 0, "\(check.stdout) \(check.stderr)")
        #expect(check.stdout.contains("ok: 2 tasks"), "\(check.stdout)")
        for link in ["tasks/loop", "tasks/sub/up", "tasks/out"] {
            #expect(check.stderr.contains("warning: \(link): directory symlink not followed"), "\(check.stderr)")
        }

        #expect(try p.run(["retry", "--all-dead"]).code == 0)  // creates the database `tasks` reads
        let listed = try p.run(["tasks", "--json"], timeout: 30)
        #expect(listed.code == 0, "\(listed.stderr)")
        let names = listed.jsonLines.compactMap { $0["name"]?.stringValue } + (listed.json.flatMap { v -> [String]? in
            if case .array(let items) = v { return items.compactMap { $0["name"]?.stringValue } }
            if case .array(let items)? = v["tasks"] { return items.compactMap { $0["name"]?.stringValue } }
            return nil
        } ?? [])
        print("tasks: \(names)")
        #expect(Set(names) == ["a", "sub/b"])
        #expect(names.count == 2, "each task once")

        // The runner loads each task once too, and says what it skipped.
        let runner = try OpsRunner(p, ["--limit", "1"])
        let id = try p.opsEnqueue("a")
        #expect(try p.opsWaitFor(id, "succeeded") != nil)
        #expect(runner.waitForExit(30) == 0)
        let lines = runner.jsonLogLines
        let skipped = lines.filter { $0["msg"]?.stringValue == "directory symlink under the tasks directory not followed" }
        #expect(skipped.count >= 3, "\(runner.stderr.suffix(800))")
    }
}
