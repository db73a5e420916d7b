import CLua
import CLuaShim
import CrescentCore

/// The globals a Lua chunk reads and writes, with their lines, from its bytecode.
///
/// The chunk is compiled (never run) in a bare Lua state and dumped with `string.dump`'s
/// format (Lua 5.4, debug info kept); `BytecodeReader` walks every function prototype. A
/// global is an index of the real `_ENV` upvalue by a constant string: `GETTABUP`/`SETTABUP`,
/// or, for a long name or a function with many constants, `GETUPVAL` of `_ENV` followed by
/// `GETFIELD`/`SETFIELD`/`GETTABLE`/`SETTABLE`. An upvalue counts as the real `_ENV` only
/// when it is the main chunk's `_ENV` or a chain of upvalues down to it, so a
/// `local _ENV = …` in the file is not mistaken for it. The constant field read right after
/// a global (`queue.push`) is recorded too, for checking host tables' fields.
public enum GlobalScanner {
    public struct Access: Sendable, Equatable {
        public var name: String
        public var line: Int
        public var write: Bool
        /// The field read from the global by the next instruction (`push` of `queue.push`).
        public var field: String?
        public init(name: String, line: Int, write: Bool, field: String? = nil) {
            self.name = name; self.line = line; self.write = write; self.field = field
        }
    }

    public struct ScanError: Error, Sendable { public var message: String }

    /// Compiles `source` (chunk name `@displayPath`) and returns its global accesses in
    /// order of line. A syntax error is thrown as Lua reports it (`file:line: …`).
    public static func scan(source: String, displayPath: String) throws(ScanError) -> [Access] {
        let bytes = try dump(source: source, chunkName: "@" + displayPath)
        var reader = BytecodeReader(bytes: bytes)
        let main: BytecodeReader.Proto
        do { main = try reader.chunk() } catch { throw ScanError(message: "\(displayPath): cannot read the compiled chunk: \(error.message)") }
        var out: [Access] = []
        walk(main, realEnv: main.upvalues.indices.map { main.upvalueNames.count > $0 && main.upvalueNames[$0] == "_ENV" }, &out)
        return out.sorted { ($0.line, $0.name) < ($1.line, $1.name) }
    }

    private static func dump(source: String, chunkName: String) throws(ScanError) -> [UInt8] {
        guard let L = luaL_newstate() else { throw ScanError(message: "cannot create a Lua state") }
        defer { lua_close(L) }
        var status: Int32 = 0
        var text = source
        text.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { c in status = crescent_load(L, c.baseAddress, c.count, chunkName) }
        }
        guard status == LUA_OK else { throw ScanError(message: luaDescribe(L, -1)) }
        let sink = DumpSink()
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        _ = lua_dump(L, { _, p, size, ud in
            guard let p, let ud else { return 0 }
            let sink = Unmanaged<DumpSink>.fromOpaque(ud).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: p, count: size))
            return 0
        }, unmanaged.toOpaque(), 0)
        return sink.bytes
    }

    private final class DumpSink { var bytes: [UInt8] = [] }

    // Lua 5.4 opcodes (lopcodes.h).
    private static let GETUPVAL: UInt32 = 9, GETTABUP: UInt32 = 11, GETTABLE: UInt32 = 12, GETFIELD: UInt32 = 14
    private static let SETUPVAL: UInt32 = 10, SETTABUP: UInt32 = 15, SETTABLE: UInt32 = 16, SETI: UInt32 = 17, SETFIELD: UInt32 = 18
    private static let LOADK: UInt32 = 3, SELF: UInt32 = 20

    private static func walk(_ f: BytecodeReader.Proto, realEnv: [Bool], _ out: inout [Access]) {
        func op(_ i: UInt32) -> UInt32 { i & 0x7F }
        func a(_ i: UInt32) -> Int { Int((i >> 7) & 0xFF) }
        func b(_ i: UInt32) -> Int { Int((i >> 16) & 0xFF) }
        func c(_ i: UInt32) -> Int { Int((i >> 24) & 0xFF) }
        func k(_ i: UInt32) -> Bool { (i >> 15) & 1 == 1 }
        func bx(_ i: UInt32) -> Int { Int(i >> 15) }
        func env(_ up: Int) -> Bool { up < realEnv.count && realEnv[up] }
        func string(_ index: Int) -> String? { index < f.constants.count ? f.constants[index] : nil }
        let code = f.code
        /// The constant field the instruction after `pc` reads from register `r`, if any.
        func nextField(_ pc: Int, _ r: Int) -> String? {
            guard pc + 1 < code.count else { return nil }
            let n = code[pc + 1]
            if op(n) == GETFIELD, b(n) == r { return string(c(n)) }
            if op(n) == SELF, b(n) == r, k(n) { return string(c(n)) }
            return nil
        }
        // Registers holding `_ENV` (fetched by GETUPVAL for a long name or many constants)
        // or a string constant (LOADK), until something else writes them. The compiler keeps
        // an assignment's table and key registers reserved until the store, so a linear
        // pass sees them intact.
        var envRegister = Set<Int>()
        var constRegister: [Int: Int] = [:]
        for (pc, i) in code.enumerated() {
            let line = pc < f.lines.count ? f.lines[pc] : f.lineDefined
            switch op(i) {
            case GETTABUP where env(b(i)):
                if let name = string(c(i)) { out.append(Access(name: name, line: line, write: false, field: nextField(pc, a(i)))) }
            case SETTABUP where env(a(i)):
                if let name = string(b(i)) { out.append(Access(name: name, line: line, write: true)) }
            case GETFIELD where envRegister.contains(b(i)):
                if let name = string(c(i)) { out.append(Access(name: name, line: line, write: false, field: nextField(pc, a(i)))) }
            case GETTABLE where envRegister.contains(b(i)):
                if let name = constRegister[c(i)].flatMap(string) {
                    out.append(Access(name: name, line: line, write: false, field: nextField(pc, a(i))))
                }
            case SETFIELD where envRegister.contains(a(i)):
                if let name = string(b(i)) { out.append(Access(name: name, line: line, write: true)) }
            case SETTABLE where envRegister.contains(a(i)):
                if let name = constRegister[b(i)].flatMap(string) { out.append(Access(name: name, line: line, write: true)) }
            default: break
            }
            switch op(i) {
            case GETUPVAL:
                constRegister[a(i)] = nil
                if env(b(i)) { envRegister.insert(a(i)) } else { envRegister.remove(a(i)) }
            case LOADK:
                envRegister.remove(a(i))
                constRegister[a(i)] = bx(i)
            case SETTABUP, SETUPVAL, SETTABLE, SETI, SETFIELD:
                break  // they write no register
            default:
                envRegister.remove(a(i))
                constRegister[a(i)] = nil
            }
        }
        for child in f.protos {
            let childEnv = child.upvalues.map { up in !up.inStack && env(up.index) }
            walk(child, realEnv: childEnv, &out)
        }
    }
}

/// Reads Lua 5.4's dump format (ldump.c): the header, then each function prototype with
/// its code, constants, upvalues, nested prototypes and debug info.
struct BytecodeReader {
    struct Upvalue { var inStack: Bool; var index: Int }
    struct Proto {
        var lineDefined: Int
        var code: [UInt32]
        /// String constants by index (nil for other constants).
        var constants: [String?]
        var upvalues: [Upvalue]
        var upvalueNames: [String]
        var protos: [Proto]
        /// The line of each instruction.
        var lines: [Int]
    }

    struct ReadError: Error { var message: String }

    let bytes: [UInt8]
    var at = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() throws(ReadError) -> UInt8 {
        guard at < bytes.count else { throw ReadError(message: "truncated at byte \(at)") }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func skip(_ n: Int) throws(ReadError) {
        guard n >= 0, at + n <= bytes.count else { throw ReadError(message: "truncated at byte \(at)") }
        at += n
    }

    /// ldump's `dumpSize`: 7 bits a byte, most significant first, the last byte's high bit set.
    mutating func size() throws(ReadError) -> Int {
        var x = 0
        for _ in 0..<10 {
            let b = try byte()
            x = (x << 7) | Int(b & 0x7F)
            if b & 0x80 != 0 { return x }
        }
        throw ReadError(message: "bad size at byte \(at)")
    }

    mutating func string() throws(ReadError) -> String? {
        let n = try size()
        if n == 0 { return nil }
        let start = at
        try skip(n - 1)
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    mutating func chunk() throws(ReadError) -> Proto {
        let signature: [UInt8] = [0x1B, 0x4C, 0x75, 0x61]
        for s in signature where try byte() != s { throw ReadError(message: "not a Lua chunk") }
        guard try byte() == 0x54 else { throw ReadError(message: "not Lua 5.4 bytecode") }
        try skip(1 + 6)  // format, LUAC_DATA
        let instruction = Int(try byte()), integer = Int(try byte()), number = Int(try byte())
        guard instruction == 4 else { throw ReadError(message: "unexpected instruction size \(instruction)") }
        try skip(integer + number)  // LUAC_INT, LUAC_NUM
        try skip(1)  // the main closure's upvalue count
        return try proto(integer: integer, number: number)
    }

    mutating func proto(integer: Int, number: Int, depth: Int = 0) throws(ReadError) -> Proto {
        guard depth < 250 else { throw ReadError(message: "functions nested too deep") }
        _ = try string()  // source
        let lineDefined = try size()
        _ = try size()  // lastlinedefined
        try skip(3)  // numparams, is_vararg, maxstacksize
        let codeCount = try size()
        guard codeCount <= (bytes.count - at) / 4 else { throw ReadError(message: "truncated code") }
        var code: [UInt32] = []
        code.reserveCapacity(codeCount)
        for _ in 0..<codeCount {
            var w: UInt32 = 0
            for shift in 0..<4 { w |= UInt32(try byte()) << (8 * shift) }  // little-endian machines
            code.append(w)
        }
        var constants: [String?] = []
        for _ in 0..<(try size()) {
            switch try byte() {
            case 0x04, 0x14: constants.append(try string())  // short and long strings
            case 0x03: try skip(integer); constants.append(nil)
            case 0x13: try skip(number); constants.append(nil)
            default: constants.append(nil)  // nil, false, true
            }
        }
        var upvalues: [Upvalue] = []
        for _ in 0..<(try size()) {
            let inStack = try byte() != 0
            let index = Int(try byte())
            try skip(1)  // kind
            upvalues.append(Upvalue(inStack: inStack, index: index))
        }
        var protos: [Proto] = []
        for _ in 0..<(try size()) { protos.append(try proto(integer: integer, number: number, depth: depth + 1)) }
        // Debug info: relative line deltas, absolute lines, locals, upvalue names.
        let lineInfoCount = try size()
        var deltas: [Int8] = []
        for _ in 0..<lineInfoCount { deltas.append(Int8(bitPattern: try byte())) }
        var absolute: [Int: Int] = [:]
        for _ in 0..<(try size()) {
            let pc = try size()
            absolute[pc] = try size()
        }
        for _ in 0..<(try size()) {
            _ = try string()
            _ = try size()
            _ = try size()
        }
        var names: [String] = []
        for _ in 0..<(try size()) { names.append(try string() ?? "") }
        var lines: [Int] = []
        var line = lineDefined
        for (pc, d) in deltas.enumerated() {
            if d == -128, let abs = absolute[pc] { line = abs } else { line += Int(d) }
            lines.append(line)
        }
        return Proto(lineDefined: lineDefined, code: code, constants: constants, upvalues: upvalues,
                     upvalueNames: names, protos: protos, lines: lines)
    }
}
