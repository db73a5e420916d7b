import CLua
import CLuaShim
import CrescentCore
import Logging

/// `log.debug/info/warn/error(msg, fields)`: the worker's Logger with the job's
/// metadata (`job.id`, `task`, `queue`, `attempt`) and the fields.
enum LogAPI {
    static func log(_ vm: LuaVM, _ L: LuaState, level: Logger.Level) -> Int32 {
        let logger = vm.current?.logger ?? vm.logger
        guard logger.logLevel <= level else { return 0 }
        let message = lua_type(L, 1) == LUA_TNIL ? "" : luaDescribe(L, 1)
        var metadata: Logger.Metadata = [:]
        if lua_type(L, 2) == LUA_TTABLE, let fields = try? LuaJSON.value(L, 2), case .object(let o) = fields {
            for (k, v) in o { metadata[k] = metadataValue(v) }
        } else if lua_type(L, 2) != LUA_TNIL && lua_type(L, 2) != LUA_TNONE {
            metadata["fields"] = .string(luaDescribe(L, 2))
        }
        logger.log(level: level, "\(message)", metadata: metadata.isEmpty ? nil : metadata)
        return 0
    }

    static func metadataValue(_ v: JSONValue) -> Logger.MetadataValue {
        switch v {
        case .null: return .string("null")
        case .bool(let b): return .stringConvertible(b)
        case .int(let i): return .stringConvertible(i)
        case .double(let d): return .stringConvertible(d)
        case .string(let s): return .string(s)
        case .array(let a): return .array(a.map(metadataValue))
        case .object(let o): return .dictionary(o.mapValues(metadataValue))
        }
    }
}
