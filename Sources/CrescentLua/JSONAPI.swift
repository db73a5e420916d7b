import CLua
import CLuaShim
import CrescentCore

/// `json.encode(v)`, `json.decode(s)` and `json.null`.
///
/// An empty Lua table encodes as `{}`; a table with keys 1..n as an array. JSON null
/// decodes to `json.null` (so arrays keep their positions).
enum JSONAPI {
    static func encode(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let value: JSONValue
        do { value = try LuaJSON.value(L, 1) } catch { throw HostError("json.encode: \(error.message)") }
        luaPush(L, value.encoded())
        return 1
    }

    static func decode(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        guard let text = luaString(L, 1) else {
            throw HostError("json.decode: expected a string, got \(TaskValidation.describe(L, 1))")
        }
        do {
            LuaJSON.push(L, try JSONValue.decode(text))
        } catch {
            throw HostError("json.decode: \(error.message)")
        }
        return 1
    }
}
