import CrescentCore
import Foundation
import Testing

/// Hot reload against the running binary (issue: save a file, the runner uses it).
@Suite(.serialized) struct ReloadTests {
    static let config = Project.quietConfig

    /// Polls `body` until it returns a value or `timeout` passes.
    func eventually<T>(_ timeout: Double = 10, _ body: () throws -> T?) rethrows -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let v = try body() { return v }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try body()
    }

    /// Enqueues a job and waits for its result.
    func result(_ project: Project, _ task: String) throws -> JSONValue? {
        let id = try project.run(["enqueue", task]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return try eventually {
            let job = try project.run(["job", id, "--json"]).json
            return job?["state"] == .string("succeeded") ? job?["result"] : nil
        }
    }

    @Test func editBreakFixAddDelete() throws {
        let project = try Project(config: Self.config, tasks: [
            "greet.lua": "return { handler = function() return 'v1' end }\n",
        ])
        let (runner, _, _) = try project.start(["run"])
        defer { runner.interrupt(); runner.waitUntilExit() }
        #expect(try result(project, "greet") == .string("v1"))

        // Change the handler.
        try project.write("tasks/greet.lua", "return { handler = function() return 'v2' end }\n")
        #expect(try eventually { try result(project, "greet") == .string("v2") ? true : nil } == true)

        // Break it: the last good version keeps running, the error is shown.
        try project.write("tasks/greet.lua", "return { handler = function() return 'v3' end\n")
        let shown = try eventually { () -> JSONValue? in
            let doc = try project.run(["tasks", "--json"]).json
            return doc?["errors"]?.array.isEmpty == false ? doc : nil
        }
        let error = shown?["errors"]?.array.first
        #expect(error?["file"] == .string("tasks/greet.lua"))
        #expect(error?["line"] != .null)
        #expect(try result(project, "greet") == .string("v2"))
        #expect(shown?["tasks"]?.array.contains { $0["name"] == .string("greet") } == true)

        // Fix it: the error clears and the new version runs.
        try project.write("tasks/greet.lua", "return { handler = function() return 'v4' end }\n")
        #expect(try eventually { try result(project, "greet") == .string("v4") ? true : nil } == true)
        #expect(try project.run(["tasks", "--json"]).json?["errors"]?.array.isEmpty == true)

        // Add a file in a new subfolder.
        try project.write("tasks/new/folder/hello.lua", "return { handler = function() return 'hello' end }\n")
        let hello = try eventually { try project.run(["tasks", "--json"]).json?["tasks"]?.array.contains { $0["name"] == .string("new/folder/hello") } == true ? true : nil }
        #expect(hello == true)
        #expect(try result(project, "new/folder/hello") == .string("hello"))

        // Delete a file: the task is gone; its queued jobs wait for it and run when it is back.
        try FileManager.default.removeItem(at: project.dir.appendingPathComponent("tasks/new/folder/hello.lua"))
        let gone = try eventually { try project.run(["tasks", "--json"]).json?["tasks"]?.array.contains { $0["name"] == .string("new/folder/hello") } == false ? true : nil }
        #expect(gone == true)
        let waiting = try project.run(["enqueue", "new/folder/hello"])
        #expect(waiting.code == 1, "enqueue of a task that is not loaded is refused")
    }

    /// Changing a schedule from every second to hourly stops the every-second firing at once.
    @Test func scheduleChangeTakesEffect() throws {
        let project = try Project(config: Self.config, tasks: [
            "beat.lua": "return { schedule = '* * * * * *', handler = function() end }\n",
        ])
        let (runner, _, _) = try project.start(["run"])
        defer { runner.interrupt(); runner.waitUntilExit() }
        let fired = try eventually { () -> Int? in
            let n = try project.run(["jobs", "--task", "beat", "--json", "--limit", "1000"]).jsonLines.count
            return n >= 3 ? n : nil
        }
        #expect(fired != nil)
        try project.write("tasks/beat.lua", "return { schedule = '0 * * * *', handler = function() end }\n")
        let switched = try eventually { try project.run(["tasks", "--json"]).json?["tasks"]?.array.first?["schedule"] == .string("0 * * * *") ? true : nil }
        #expect(switched == true)
        Thread.sleep(forTimeInterval: 0.5)
        let before = try project.run(["jobs", "--task", "beat", "--json", "--limit", "1000"]).jsonLines.count
        Thread.sleep(forTimeInterval: 3)
        let after = try project.run(["jobs", "--task", "beat", "--json", "--limit", "1000"]).jsonLines.count
        print("schedule change: \(before) jobs when switched, \(after) three seconds later")
        #expect(after == before, "no every-second occurrences after the change")
        let next = try project.run(["tasks", "--json"]).json?["tasks"]?.array.first?["next_fire"]?.stringValue ?? ""
        #expect(next.hasSuffix(":00:00.000Z"), "next fire is on the hour: \(next)")
    }
}
