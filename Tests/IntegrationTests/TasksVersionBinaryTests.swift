import CrescentCore
import Foundation
import Testing

/// A runner's tasks version, against the real binary: `status` shows the version `tasks`
/// computes from the same files, and a reload moves it.
@Suite struct TasksVersionBinaryTests {
    @Test func statusFollowsTheLoadedTaskFiles() throws {
        let p = try Project(config: Project.quietConfig, tasks: ["a.lua": "return { handler = function(job) return 1 end }"])
        defer { p.dropSchema() }
        func computed() throws -> String { try p.run(["tasks", "--json"]).json?["tasks_version"]?.stringValue ?? "" }
        func shown() throws -> [String] {
            try p.run(["status", "--json"]).json?["processes"]?.array.compactMap { $0["tasks_version"]?.stringValue } ?? []
        }
        #expect(try p.run(["retry", "--all-dead"]).code == 0, "the database is created")
        let first = try computed()
        let runner = try Background(p, ["run"])
        #expect(try opsEventually(30) { try shown() == [first] ? true : nil } == true, "status shows the loaded version \(first)")

        try p.write("tasks/a.lua", "return { handler = function(job) return 2 end }")
        let second = try computed()
        #expect(second != first && second.count == 12)
        let followed = try opsEventually(30) { try shown() == [second] ? true : nil } == true
        let tasksDoc = try p.run(["tasks", "--json"]).json
        let finally = try shown()
        #expect(runner.interrupt() == 0)
        #expect(followed, "after the reload status shows \(second): \(finally)")
        #expect(tasksDoc?["runners"]?.array.first?["tasks_version"]?.stringValue == second, "tasks names the runner's version")
    }
}
