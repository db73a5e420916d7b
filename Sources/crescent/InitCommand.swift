import ArgumentParser
import CrescentCore
import CrescentLua
import Foundation

struct InitCommand: CrescentCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start a project: crescent.toml, tasks/example.lua, and editor and linter settings.")

    @Argument(help: "The project folder (default: the current folder; made if missing).")
    var dir: String = "."

    func execute() throws {
        let root = URL(fileURLWithPath: dir)
        let sandbox = try SandboxGlobals.read()
        let files: [(String, String)] = [
            ("crescent.toml", InitCommand.config),
            ("tasks/example.lua", InitCommand.example),
            (".luarc.json", InitCommand.luarc),
            (TypesCommand.defaultPath, LuaDefinitions.luaCATS()),
            (".luacheckrc", LuaDefinitions.luacheckrc(sandbox)),
        ]
        for (path, text) in files {
            let url = root.appendingPathComponent(path)
            let shown = dir == "." ? path : (dir.hasSuffix("/") ? dir : dir + "/") + path
            if FileManager.default.fileExists(atPath: url.path) {
                Output.line("kept \(shown) (it exists)")
                continue
            }
            try TypesCommand.write(text, to: url)
            Output.line("created \(shown)")
        }
    }

    static let config = """
        # Crescent's config; every key is optional (docs/config.md).
        database = "crescent.db"
        tasks    = "tasks"

        [[queues]]
        name        = "default"
        concurrency = 100

        [log]
        level = "info"

        """

    static let example = """
        -- An example task. Try: crescent enqueue example --args '{"name": "Ada", "count": 3}'
        -- then: crescent run --limit 1
        ---@type crescent.Task
        return {
          queue = "default",
          ttl   = "1m",
          retry = { attempts = 3, delay = "5s" },
          handler = function(job)
            local name = job.args.name or "world"
            local count = job.args.count or 1
            for i = 1, count do
              log.info("hello", { name = name, i = i })
            end
            return { greeted = name, times = count }
          end,
        }

        """

    /// lua-language-server's settings: Lua 5.4, the libraries the sandbox removes turned off
    /// (its `os` is described by the definitions instead), the definitions as a library.
    static let luarc = """
        {
          "runtime.version": "Lua 5.4",
          "runtime.builtin": { "io": "disable", "debug": "disable", "package": "disable", "os": "disable" },
          "workspace.library": ["types"],
          "workspace.checkThirdParty": false
        }

        """
}
