/// Renders `HostAPICatalog` for tools: LuaCATS annotations (`---@meta`) that
/// lua-language-server reads through `.luarc.json`, and a `.luacheckrc` for luacheck.
public enum LuaDefinitions {
    /// The definitions file `crescent types` writes.
    public static func luaCATS() -> String {
        var out: [String] = [
            "---@meta crescent",
            "-- Crescent's Lua API for lua-language-server: the globals of a task file's sandbox, the",
            "-- job table and the task table. Written by `crescent types`; do not edit (run it again).",
            "-- Annotate a task file's table with `---@type crescent.Task` to get completion for it.",
            "",
        ]
        for c in HostAPICatalog.classes {
            out.append("---\(c.doc)")
            out.append("---@class \(c.name)")
            for f in c.fields { out.append("---@field \(f.name) \(f.type) \(f.doc)") }
            out.append("")
        }
        out.append("---The table a task file returns.")
        out.append("---@class crescent.Task")
        for f in HostAPICatalog.taskFields { out.append("---@field \(f.name) \(f.type) \(f.doc)") }
        out.append("")
        out.append("---The job being run: the handler's argument.")
        out.append("---@class crescent.Job")
        for f in HostAPICatalog.jobFields { out.append("---@field \(f.name) \(f.type) \(f.doc)") }
        out.append("local Job = {}")
        out.append("")
        for m in HostAPICatalog.jobMethods { out += function(m, qualified: "Job:\(m.name)") }
        for g in HostAPICatalog.globals {
            switch g {
            case .table(let name, let doc, let functions, let fields):
                out.append("---\(doc)")
                out.append("---@class crescent.lib.\(name)")
                for f in fields { out.append("---@field \(f.name) \(f.type) \(f.doc)") }
                out.append("\(name) = {}")
                out.append("")
                for f in functions { out += function(f, qualified: "\(name).\(f.name)") }
            case .function(let f):
                out += function(f, qualified: f.name)
            case .value(let v):
                out.append("---\(v.doc)")
                out.append("---@type \(v.type)")
                out.append("\(v.name) = {}")
                out.append("")
            case .standard:
                break  // lua-language-server describes standard Lua itself
            }
        }
        return out.joined(separator: "\n")
    }

    private static func function(_ f: HostAPICatalog.Function, qualified: String) -> [String] {
        var out = ["---\(f.doc)"]
        for p in f.params { out.append("---@param \(p.name) \(p.type)") }
        for r in f.returns { out.append("---@return \(r.type) \(r.name)") }
        out.append("function \(qualified)(\(f.params.map(\.bareName).joined(separator: ", "))) end")
        out.append("")
        return out
    }

    /// A `.luacheckrc` allowing exactly the sandbox's globals (read-only) with their fields.
    public static func luacheckrc(_ sandbox: SandboxGlobals) -> String {
        var out: [String] = [
            "-- Crescent's globals for luacheck. Written by `crescent types --luacheck`; do not edit.",
            "std = \"crescent\"",
            "stds.crescent = {",
            "  read_globals = {",
        ]
        for name in sandbox.names {
            switch sandbox.globals[name] {
            case .some(.some(let fields)):
                let list = fields.map { "\"\($0)\"" }.joined(separator: ", ")
                out.append("    \(name) = { fields = { \(list) } },")
            default:
                out.append(name == "env" ? "    env = { other_fields = true }," : "    \"\(name)\",")
            }
        }
        out += ["  },", "}",
                "-- A handler is always called with the job, used or not.",
                "ignore = { \"212/job\" }",
                "max_line_length = false", ""]
        return out.joined(separator: "\n")
    }
}
