import CLua
import CLuaShim

/// `require("x")` loads `tasks/lib/x.lua` (`"sub.y"` → `tasks/lib/sub/y.lua`) from the
/// snapshot, with the requiring task's `_ENV`. Nothing outside tasks/lib can be required.
enum RequireAPI {
    /// `loadlib(name, env)` → the module's compiled chunk.
    static func loadlib(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        guard let name = luaString(L, 1) else { throw HostError("require expects a module name") }
        guard let file = vm.modules[name] else {
            throw HostError("module \"\(name)\" not found: require loads only modules under tasks/lib/ (tasks/lib/\(name.replacingOccurrences(of: ".", with: "/")).lua)")
        }
        var status: Int32 = 0
        var source = file.source
        let chunkName = "@" + file.displayPath
        source.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { c in
                status = crescent_load(L, c.baseAddress, c.count, chunkName)
            }
        }
        guard status == LUA_OK else {
            let msg = luaDescribe(L, -1)
            crescent_pop(L, 1)
            throw HostError("require \"\(name)\": \(msg)")
        }
        lua_pushvalue(L, 2)
        _ = lua_setupvalue(L, -2, 1)
        return 1
    }
}
