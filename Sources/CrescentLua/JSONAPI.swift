import CLua
import CLuaShim
import CrescentCore

/// `json.encode(v)`, `json.decode(s)` and `json.null`.
///
/// An empty Lua table encodes as `{}`; a table with keys 1..n as an array. JSON null
/// decodes to `json.null` (so arrays keep their positions). Decoding counts against the VM's
/// memory cap.
enum JSONAPI {
    static func encode(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let value: JSONValue
        do { value = try LuaJSON.value(L, 1) } catch { throw HostError("json.encode: \(error.message)") }
        luaPush(L, value.encoded())
        return 1
    }

    static func decode(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        guard lua_type(L, 1) == LUA_TSTRING else {
            throw HostError("json.decode: expected a string, got \(TaskValidation.describe(L, 1))")
        }
        // Straight into Lua values, counted against the VM's memory cap as they are made.
        do {
            try LuaJSON.decode(L, 1, limit: max(vm.config.memoryLimit, 1 << 20))
        } catch {
            throw HostError("json.decode: \(error.message)")
        }
        return 1
    }
}
