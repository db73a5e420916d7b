import CLua
import CLuaShim
import CrescentCore

/// Thin helpers over the Lua C API for Swift code. They use raw access only (no
/// metamethods), so none of them can raise.
typealias LuaState = OpaquePointer

let luaRegistry = crescent_registryindex()

@inline(__always) func luaType(_ L: LuaState, _ i: Int32) -> Int32 { lua_type(L, i) }

func luaTypeName(_ L: LuaState, _ i: Int32) -> String {
    if crescent_is_null(L, i) != 0 { return "json.null" }
    return String(cString: lua_typename(L, lua_type(L, i)))
}

/// The string at `i` if it is a string (numbers are not converted).
func luaString(_ L: LuaState, _ i: Int32) -> String? {
    guard lua_type(L, i) == LUA_TSTRING else { return nil }
    var len = 0
    guard let p = lua_tolstring(L, i, &len) else { return nil }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
}

func luaBytes(_ L: LuaState, _ i: Int32) -> [UInt8]? {
    guard lua_type(L, i) == LUA_TSTRING else { return nil }
    var len = 0
    guard let p = lua_tolstring(L, i, &len) else { return nil }
    return Array(UnsafeRawBufferPointer(start: p, count: len))
}

/// Strings and numbers as text; other values described by type.
func luaDescribe(_ L: LuaState, _ i: Int32) -> String {
    switch lua_type(L, i) {
    case LUA_TSTRING: return luaString(L, i) ?? ""
    case LUA_TNUMBER:
        if lua_isinteger(L, i) != 0 { return String(crescent_tointeger(L, i, nil)) }
        return "\(crescent_tonumber(L, i, nil))"
    case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
    case LUA_TNIL: return "nil"
    default: return "(a \(luaTypeName(L, i)) value)"
    }
}

func luaPush(_ L: LuaState, _ s: String) {
    var s = s
    s.withUTF8 { buf in
        buf.withMemoryRebound(to: CChar.self) { c in
            _ = lua_pushlstring(L, c.baseAddress, c.count)
        }
    }
}

func luaPush(_ L: LuaState, bytes: [UInt8]) {
    bytes.withUnsafeBufferPointer { buf in
        buf.withMemoryRebound(to: CChar.self) { c in
            _ = lua_pushlstring(L, c.baseAddress, c.count)
        }
    }
}

func luaAbs(_ L: LuaState, _ i: Int32) -> Int32 { lua_absindex(L, i) }

/// `t[key] = value-on-top` (raw), popping the value.
func luaSetField(_ L: LuaState, _ t: Int32, _ key: String) {
    let t = luaAbs(L, t) - 0
    luaPush(L, key)
    lua_rotate(L, -2, 1)  // key below value
    lua_rawset(L, t)
}

/// Pushes `t[key]` (raw) and returns its type.
@discardableResult
func luaGetField(_ L: LuaState, _ t: Int32, _ key: String) -> Int32 {
    let t = luaAbs(L, t)
    luaPush(L, key)
    return lua_rawget(L, t)
}

func luaRef(_ L: LuaState) -> Int32 { luaL_ref(L, luaRegistry) }
func luaUnref(_ L: LuaState, _ ref: Int32) { luaL_unref(L, luaRegistry, ref) }
@discardableResult func luaPushRef(_ L: LuaState, _ ref: Int32) -> Int32 { lua_rawgeti(L, luaRegistry, lua_Integer(ref)) }

/// An integer value at `i` (a float with an integral value counts).
func luaInteger(_ L: LuaState, _ i: Int32) -> Int64? {
    guard lua_type(L, i) == LUA_TNUMBER else { return nil }
    var ok: Int32 = 0
    let v = crescent_tointeger(L, i, &ok)
    return ok != 0 ? Int64(v) : nil
}

func luaNumber(_ L: LuaState, _ i: Int32) -> Double? {
    guard lua_type(L, i) == LUA_TNUMBER else { return nil }
    return crescent_tonumber(L, i, nil)
}

/// Splits `tasks/x.lua:3: message` into (file, line, message).
func splitLuaError(_ text: String, file: String) -> TaskLoadError {
    let prefix = file + ":"
    if text.hasPrefix(prefix) {
        let rest = text.dropFirst(prefix.count)
        if let colon = rest.firstIndex(of: ":"), let line = Int(rest[rest.startIndex..<colon]) {
            let msg = rest[rest.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            return TaskLoadError(file: file, line: line, message: msg)
        }
    }
    // Lua shortens long chunk names ("...ks/deep/name.lua:3: msg"): find ".lua:<line>: ".
    if let range = text.range(of: #"\.lua:[0-9]+: "#, options: .regularExpression) {
        let digits = text[range].dropFirst(5).dropLast(2)
        if let line = Int(digits) {
            return TaskLoadError(file: file, line: line, message: String(text[range.upperBound...]))
        }
    }
    return TaskLoadError(file: file, line: nil, message: text)
}
