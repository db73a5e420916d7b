import CrescentCore
import Foundation
import Testing

/// `crescent init`, `crescent types` and the global check of `crescent check`, driving the
/// binary; luacheck (Debian's lua-check) reads the `.luacheckrc` that `types --luacheck` writes.
@Suite struct EditorToolsTests {
    static let repoTasks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tasks")

    static let typo = """
        return {
          handler = function(job)
            qeue.push("x", { id = job.id })
            queue.psuh("x")
          end,
        }

        """

    @Test func initScaffoldsAProjectThatChecksClean() throws {
        let p = try Project()
        let dir = p.dir.appendingPathComponent("app")
        let made = try p.run(["init", dir.path], config: false)
        #expect(made.code == 0, "\(made.stderr)")
        for file in ["crescent.toml", "tasks/example.lua", ".luarc.json", "types/crescent.lua", ".luacheckrc"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file) missing")
            #expect(made.stdout.contains("created \(dir.path)/\(file)"), "\(made.stdout)")
        }
        let luarc = try JSONValue.decode(String(contentsOf: dir.appendingPathComponent(".luarc.json"), encoding: .utf8))
        guard case .object(let settings) = luarc else { Issue.record("not an object"); return }
        #expect(settings["workspace.library"] == .array([.string("types")]))
        let types = try String(contentsOf: dir.appendingPathComponent("types/crescent.lua"), encoding: .utf8)
        #expect(types.hasPrefix("---@meta"))
        #expect(types.contains("function queue.push(task, args, opts) end"))

        // A second init keeps what exists.
        try "-- mine\n".write(to: dir.appendingPathComponent("tasks/example.lua"), atomically: true, encoding: .utf8)
        let again = try p.run(["init", dir.path], config: false)
        #expect(again.code == 0)
        #expect(again.stdout.contains("kept \(dir.path)/tasks/example.lua (it exists)"))
        #expect(try String(contentsOf: dir.appendingPathComponent("tasks/example.lua"), encoding: .utf8) == "-- mine\n")
    }

    @Test func initializedExampleChecksClean() throws {
        let p = try Project()
        let dir = p.dir.appendingPathComponent("fresh")
        #expect(try p.run(["init", dir.path], config: false).code == 0)
        let check = try p.run(["check", "--config", dir.appendingPathComponent("crescent.toml").path], config: false)
        #expect(check.code == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("ok: 1 task in"), "\(check.stdout)")
    }

    @Test func typesWritesTheDefinitionsOrALuacheckrc() throws {
        let p = try Project()
        let out = try p.run(["types", "--output", "-"], config: false)
        #expect(out.code == 0)
        #expect(out.stdout.hasPrefix("---@meta crescent"))
        #expect(out.stdout.contains("function Job:snooze(duration) end"))
        let written = try p.run(["types"], config: false)
        #expect(written.code == 0 && written.stdout == "wrote types/crescent.lua\n", "\(written.stdout)\(written.stderr)")
        #expect(FileManager.default.fileExists(atPath: p.dir.appendingPathComponent("types/crescent.lua").path))
        let rc = try p.run(["types", "--luacheck"], config: false)
        #expect(rc.code == 0 && rc.stdout == "wrote .luacheckrc\n")
        #expect(try String(contentsOf: p.dir.appendingPathComponent(".luacheckrc"), encoding: .utf8).contains("queue = { fields = { \"push\" } }"))
        let bad = try p.run(["types", "--output", "/proc/no/such/dir/x.lua"], config: false)
        #expect(bad.code == 1 && bad.stderr.contains("cannot write /proc/no/such/dir/x.lua"), "\(bad.stderr)")
    }

    @Test func checkReportsUnknownGlobalsWithExitOne() throws {
        let p = try Project(tasks: ["good.lua": "return { handler = function(job) return json.encode(job.args) end }\n",
                                    "typo.lua": Self.typo])
        let check = try p.run(["check"])
        #expect(check.code == 1)
        #expect(check.stdout == """
            tasks/typo.lua:3: unknown global "qeue" (did you mean "queue"?)
            tasks/typo.lua:4: unknown field "psuh" of "queue" (did you mean "queue.push"?)

            """, "\(check.stdout)")
        try p.write("tasks/typo.lua", "return { handler = function(job) queue.push(\"good\", { id = job.id }) end }\n")
        let fixed = try p.run(["check"])
        #expect(fixed.code == 0 && fixed.stdout.contains("ok: 2 tasks"), "\(fixed.stdout)")
    }

    @Test func theExampleTasksHaveNoUnknownGlobals() throws {
        let p = try Project(config: "tasks = \"\(Self.repoTasks.path)\"\n")
        let check = try p.run(["check"])
        #expect(check.code == 0, "\(check.stdout)")
    }

    /// luacheck, when installed: the repo's example tasks pass with the generated .luacheckrc;
    /// a file with `qeue.push` is flagged by luacheck and by `crescent check` alike.
    @Test func luacheckAgreesOnTheExampleTasksAndATypo() throws {
        guard let luacheck = ["/usr/bin/luacheck", "/usr/local/bin/luacheck"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            print("skipped: luacheck is not installed (apt-get install lua-check)")
            return
        }
        let p = try Project(tasks: ["typo.lua": Self.typo])
        #expect(try p.run(["types", "--luacheck"], config: false).code == 0)
        let rc = p.dir.appendingPathComponent(".luacheckrc").path
        let examples = Self.luacheck(luacheck, ["--config", rc, "--no-color", Self.repoTasks.path])
        #expect(examples.code == 0, "\(examples.out)")
        let typo = Self.luacheck(luacheck, ["--config", rc, "--no-color", p.dir.appendingPathComponent("tasks/typo.lua").path])
        #expect(typo.code == 1, "\(typo.out)")
        #expect(typo.out.contains("typo.lua:3:5: accessing undefined variable 'qeue'"), "\(typo.out)")
        #expect(typo.out.contains("typo.lua:4:5: accessing undefined field 'psuh' of global 'queue'"), "\(typo.out)")
        #expect(!typo.out.contains("unused argument"), "\(typo.out)")
        let check = try p.run(["check"])
        #expect(check.code == 1 && check.stdout.contains("tasks/typo.lua:3: unknown global \"qeue\""))
    }

    static func luacheck(_ path: String, _ args: [String]) -> (code: Int32, out: String) {
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: path)
        proc.arguments = args
        let pipe = Pipe()
        proc.standardOutput = pipe
        proc.standardError = pipe
        do { try proc.run() } catch { return (-1, "\(error)") }
        let all = ReadAll(pipe)
        proc.waitUntilExit()
        return (proc.terminationStatus, all.text())
    }
}
