import CLua
import CLuaShim
import CrescentCore

/// The one converter between Lua values and JSON, used for args, results, store values,
/// `json.encode`/`decode` and `queue.push` args.
///
/// Lua → JSON: nil and `json.null` → null; booleans; integers stay integers; floats
/// (NaN and infinities are refused); strings; a table whose keys are exactly 1..n is an
/// array; any other table is an object (number keys become their decimal text); an
/// empty table is the empty object `{}`. Functions, userdata, threads and cyclic tables
/// cannot be encoded. JSON → Lua: null → `json.null`, arrays → tables 1..n.
enum LuaJSON {
    struct EncodeError: Error { var message: String }

    static func value(_ L: LuaState, _ index: Int32) throws(EncodeError) -> JSONValue {
        var path: [UnsafeRawPointer] = []
        return try convert(L, luaAbs(L, index), depth: 0, path: &path)
    }

    private static func convert(_ L: LuaState, _ i: Int32, depth: Int, path: inout [UnsafeRawPointer]) throws(EncodeError) -> JSONValue {
        switch lua_type(L, i) {
        case LUA_TNIL: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, i) != 0 { return .int(Int64(crescent_tointeger(L, i, nil))) }
            let d = crescent_tonumber(L, i, nil)
            guard d.isFinite else { throw EncodeError(message: "cannot encode the number \(d) (JSON has no NaN or infinity)") }
            return .double(d)
        case LUA_TSTRING: return .string(luaString(L, i) ?? "")
        case LUA_TLIGHTUSERDATA where crescent_is_null(L, i) != 0: return .null
        case LUA_TTABLE:
            guard let ptr = lua_topointer(L, i) else { return .null }
            if path.contains(ptr) { throw EncodeError(message: "cannot encode a cyclic table") }
            guard depth < JSONValue.maxDepth else { throw EncodeError(message: "cannot encode tables nested deeper than \(JSONValue.maxDepth) levels") }
            guard lua_checkstack(L, 4) != 0 else { throw EncodeError(message: "value too deep to encode") }
            path.append(ptr)
            defer { path.removeLast() }
            var intKeys: [Int64: JSONValue] = [:]
            var strKeys: [String: JSONValue] = [:]
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                // key at -2, value at -1
                let v: JSONValue
                do { v = try convert(L, lua_gettop(L), depth: depth + 1, path: &path) } catch {
                    lua_settop(L, -3)
                    throw error
                }
                switch lua_type(L, -2) {
                case LUA_TSTRING: strKeys[luaString(L, -2) ?? ""] = v
                case LUA_TNUMBER:
                    if let k = luaInteger(L, -2) { intKeys[k] = v }
                    else { strKeys[luaDescribe(L, -2)] = v }
                default:
                    let t = luaTypeName(L, -2)
                    lua_settop(L, -3)
                    throw EncodeError(message: "cannot encode a table with a \(t) key")
                }
                crescent_pop(L, 1)
            }
            if strKeys.isEmpty, !intKeys.isEmpty, intKeys.keys.min() == 1, intKeys.keys.max() == Int64(intKeys.count) {
                return .array((1...intKeys.count).map { intKeys[Int64($0)]! })
            }
            for (k, v) in intKeys { strKeys[String(k)] = v }
            return .object(strKeys)
        default:
            throw EncodeError(message: "cannot encode a \(luaTypeName(L, i)) value")
        }
    }

    /// Pushes a JSON value as a Lua value. Returns false if the Lua stack cannot grow.
    @discardableResult
    static func push(_ L: LuaState, _ value: JSONValue) -> Bool {
        guard lua_checkstack(L, 3) != 0 else { lua_pushnil(L); return false }
        switch value {
        case .null: crescent_push_null(L)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .double(let d): lua_pushnumber(L, d)
        case .string(let s): luaPush(L, s)
        case .array(let a):
            lua_createtable(L, Int32(clamping: a.count), 0)
            for (n, v) in a.enumerated() {
                push(L, v)
                lua_rawseti(L, -2, lua_Integer(n + 1))
            }
        case .object(let o):
            lua_createtable(L, 0, Int32(clamping: o.count))
            for (k, v) in o {
                luaPush(L, k)
                push(L, v)
                lua_rawset(L, -3)
            }
        }
        return true
    }
}
