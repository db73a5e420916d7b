import ArgumentParser
import CrescentCore
import CrescentLua
import Foundation

struct TypesCommand: CrescentCommand {
    static let configuration = CommandConfiguration(
        commandName: "types",
        abstract: "Write editor definitions of the Lua API (LuaCATS for lua-language-server), or a .luacheckrc.")

    @Option(name: .shortAndLong, help: "Where to write (default types/crescent.lua, or .luacheckrc with --luacheck; - for standard output).")
    var output: String?

    @Flag(help: "Write a .luacheckrc with Crescent's globals instead.")
    var luacheck = false

    func execute() throws {
        let text: String
        if luacheck {
            text = LuaDefinitions.luacheckrc(try SandboxGlobals.read())
        } else {
            text = LuaDefinitions.luaCATS()
        }
        let path = output ?? (luacheck ? ".luacheckrc" : TypesCommand.defaultPath)
        if path == "-" {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        try TypesCommand.write(text, to: URL(fileURLWithPath: path))
        Output.line("wrote \(path)")
    }

    static let defaultPath = "types/crescent.lua"

    /// Writes a generated file, making its folder; an error names the path.
    static func write(_ text: String, to url: URL) throws(CrescentError) {
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw CrescentError.failed("cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}
