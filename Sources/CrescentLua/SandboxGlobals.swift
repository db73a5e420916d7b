import CLua
import CLuaShim
import CrescentCore
import Foundation
import Logging

/// What a task file's `_ENV` holds, read from a fresh sandboxed VM: the ground truth that
/// `crescent check` compares globals with, and that the editor definitions are tested against.
public struct SandboxGlobals: Sendable {
    /// Global name → the field names of its table (sorted), or nil when it is not a table.
    /// `_G` (the environment itself) and `env` (the config's values) list no fields.
    public var globals: [String: [String]?]
    /// The methods the job table offers (`snooze`, `discard`, …).
    public var jobMethods: [String]

    public var names: [String] { globals.keys.sorted() }

    /// Reads them from a new VM (no host, no tasks).
    public static func read() throws -> SandboxGlobals {
        let scratch = FileManager.default.temporaryDirectory
        let vm = try LuaVM(config: LuaConfig(tasksDir: scratch, memoryLimit: 16 << 20), host: nil,
                           logger: Logger(label: "crescent.types", factory: { _ in SwiftLogNoOpLogHandler() }))
        let L = vm.L
        defer { lua_settop(L, 0) }
        guard vm.pushNewEnv() else { throw CrescentError.failed("cannot create a sandboxed environment") }
        let env = lua_gettop(L)
        var globals: [String: [String]?] = [:]
        lua_pushnil(L)
        while lua_next(L, env) != 0 {
            if let name = luaString(L, -2) {
                let isEnvItself = lua_rawequal(L, -1, env) != 0
                if lua_type(L, -1) == LUA_TTABLE && !isEnvItself && name != "env" {
                    globals[name] = .some(keys(L, lua_gettop(L)))
                } else {
                    globals[name] = .some(nil)
                }
            }
            crescent_pop(L, 1)
        }
        luaPushRef(L, vm.jobMethodsRef)
        let methods = keys(L, lua_gettop(L))
        return SandboxGlobals(globals: globals, jobMethods: methods)
    }

    private static func keys(_ L: LuaState, _ t: Int32) -> [String] {
        var out: [String] = []
        lua_pushnil(L)
        while lua_next(L, t) != 0 {
            crescent_pop(L, 1)
            if let k = luaString(L, -1) { out.append(k) }
        }
        return out.sorted()
    }
}
