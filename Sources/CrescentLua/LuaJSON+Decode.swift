import CLua
import CLuaShim
import CrescentCore

extension LuaJSON {
    struct DecodeError: Error { var message: String }

    /// Parses the JSON text at stack index `index` straight into Lua values on top of the stack
    /// (as `JSONValue.decode` followed by `push` would, without the tree in between). Memory is
    /// counted as it goes: once the VM holds more than `limit` bytes, decoding stops with
    /// "memory limit exceeded" (the trampoline then ends the attempt). The stack is left as it
    /// was on error.
    static func decode(_ L: LuaState, _ index: Int32, limit: Int) throws(DecodeError) {
        var length = 0
        guard let text = lua_tolstring(L, index, &length) else { throw DecodeError(message: "expected a string") }
        let base = lua_gettop(L)
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: length)
        var parser = LuaJSONParser(L: L, bytes: bytes, limit: limit)
        do throws(DecodeError) {
            parser.skipSpace()
            try parser.value(depth: 0)
            parser.skipSpace()
            if parser.pos != bytes.count { throw parser.fail("unexpected text after the JSON value") }
        } catch {
            lua_settop(L, base)
            throw error
        }
    }
}

private struct LuaJSONParser {
    let L: LuaState
    let bytes: UnsafeBufferPointer<UInt8>
    let limit: Int
    var pos = 0
    var count = 0
    var scratch: [UInt8] = []

    init(L: LuaState, bytes: UnsafeBufferPointer<UInt8>, limit: Int) {
        self.L = L; self.bytes = bytes; self.limit = limit
    }

    func fail(_ what: String) -> LuaJSON.DecodeError {
        LuaJSON.DecodeError(message: "invalid JSON at offset \(pos): \(what)")
    }

    mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
    }

    /// Every few hundred values, and after each container: the VM's memory against the cap.
    mutating func counted(force: Bool = false) throws(LuaJSON.DecodeError) {
        count += 1
        guard force || count & 255 == 0 else { return }
        guard crescent_vm_used(L) > limit else { return }
        // Garbage first, as the allocator would before refusing; what is decoded so far stays.
        _ = crescent_gc_collect(L)
        guard crescent_vm_used(L) > limit else { return }
        crescent_vm_abort_memory(L)
        throw LuaJSON.DecodeError(message: "memory limit exceeded")
    }

    mutating func literal(_ word: StaticString) throws(LuaJSON.DecodeError) {
        let n = word.utf8CodeUnitCount
        guard pos + n <= bytes.count else { throw fail("unexpected character") }
        for i in 0..<n where bytes[pos + i] != word.utf8Start[i] { throw fail("unexpected character") }
        pos += n
    }

    mutating func value(depth: Int) throws(LuaJSON.DecodeError) {
        guard depth < JSONValue.maxDepth else {
            throw LuaJSON.DecodeError(message: "invalid JSON: nested deeper than \(JSONValue.maxDepth) levels")
        }
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        guard lua_checkstack(L, 4) != 0 else { throw fail("nested too deep") }
        try counted()
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            lua_createtable(L, 0, 0)
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                try string()
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                pos += 1
                skipSpace()
                try value(depth: depth + 1)
                lua_rawset(L, -3)
                skipSpace()
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; try counted(force: true); return }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            pos += 1
            lua_createtable(L, 0, 0)
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            var n: lua_Integer = 0
            while true {
                skipSpace()
                try value(depth: depth + 1)
                n += 1
                lua_rawseti(L, -2, n)
                skipSpace()
                guard pos < bytes.count else { throw fail("unexpected end of input") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; try counted(force: true); return }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): try string()
        case UInt8(ascii: "t"): try literal("true"); lua_pushboolean(L, 1)
        case UInt8(ascii: "f"): try literal("false"); lua_pushboolean(L, 0)
        case UInt8(ascii: "n"): try literal("null"); crescent_push_null(L)
        default: try number()
        }
    }

    mutating func number() throws(LuaJSON.DecodeError) {
        switch JSONNumberText.decode(bytes, pos: &pos) {
        case .int(let i): lua_pushinteger(L, lua_Integer(i))
        case .double(let d): lua_pushnumber(L, d)
        case .problem(let problem): throw fail(problem)
        }
    }

    /// Pushes the string at `pos` (an opening quote). Without escapes, straight from the text.
    mutating func string() throws(LuaJSON.DecodeError) {
        pos += 1
        let start = pos
        while pos < bytes.count, bytes[pos] != UInt8(ascii: "\""), bytes[pos] != UInt8(ascii: "\\"), bytes[pos] >= 0x20 { pos += 1 }
        guard pos < bytes.count else { throw fail("unterminated string") }
        if bytes[pos] == UInt8(ascii: "\"") {
            pushBytes(UnsafeBufferPointer(rebasing: bytes[start..<pos]))
            pos += 1
            return
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: bytes[start..<pos])
        if let problem = JSONStringText.decode(bytes, pos: &pos, into: &scratch) { throw fail(problem) }
        scratch.withUnsafeBufferPointer { pushBytes($0) }
    }

    func pushBytes(_ b: UnsafeBufferPointer<UInt8>) {
        b.withMemoryRebound(to: CChar.self) { c in _ = lua_pushlstring(L, c.baseAddress, c.count) }
    }
}
