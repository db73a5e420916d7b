import CLua
import CLuaShim
import CrescentCore
import Foundation

/// Validates the table a task file returned into a `TaskDefinition` (SPEC §2).
enum TaskValidation {
    static let fields = ["name", "queue", "priority", "schedule", "args", "schedules", "enabled", "timezone", "missed",
                         "unique", "ttl", "expires", "retry", "retention", "handler"]
    static let retryKeys = ["attempts", "backoff", "delay", "max_delay", "jitter"]
    static let uniqueKeys = ["by", "period"]

    struct FieldError: Error { var message: String }

    enum TaskLoadResult {
        case loaded(InstalledTask)
        case failed(TaskLoadError)
    }

    static func validate(_ L: LuaState, _ index: Int32, file: TaskSnapshot.File) -> TaskLoadResult {
        let t = luaAbs(L, index)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 10) != 0 else {
            return .failed(TaskLoadError(file: file.displayPath, line: nil, message: "out of Lua stack"))
        }
        var line: Int? = nil
        if luaGetField(L, t, "handler") == LUA_TFUNCTION {
            var ar = lua_Debug()
            if lua_getinfo(L, ">S", &ar) != 0, ar.linedefined > 0 { line = Int(ar.linedefined) }
        } else {
            crescent_pop(L, 1)
        }
        do {
            var uniqueIsFunction = false
            let def = try definition(L, t, file: file, uniqueIsFunction: &uniqueIsFunction)
            luaGetField(L, t, "handler")
            let handlerRef = luaRef(L)
            var uniqueRef: Int32? = nil
            if uniqueIsFunction {
                luaGetField(L, t, "unique")
                luaGetField(L, -1, "by")
                uniqueRef = luaRef(L)
                crescent_pop(L, 1)
            }
            return .loaded(InstalledTask(definition: def, handlerRef: handlerRef, uniqueRef: uniqueRef))
        } catch {
            return .failed(TaskLoadError(file: file.displayPath, line: line, message: error.message))
        }
    }

    private static func definition(_ L: LuaState, _ t: Int32, file: TaskSnapshot.File,
                                   uniqueIsFunction: inout Bool) throws(FieldError) -> TaskDefinition {
        // Unknown keys first.
        lua_pushnil(L)
        while lua_next(L, t) != 0 {
            crescent_pop(L, 1)
            guard let key = luaString(L, -1) else {
                let what = luaDescribe(L, -1)
                throw FieldError(message: "unexpected key \(what) in the task table (fields are: \(fields.joined(separator: ", ")))")
            }
            guard fields.contains(key) else {
                throw FieldError(message: "unknown field \"\(key)\" (fields are: \(fields.joined(separator: ", ")))")
            }
        }
        var def = TaskDefinition(name: file.defaultTaskName, file: file.displayPath)

        if luaGetField(L, t, "handler") != LUA_TFUNCTION {
            let what = luaTypeName(L, -1)
            crescent_pop(L, 1)
            if what == "nil" { throw FieldError(message: "field \"handler\" is missing: a task needs handler = function(job) ... end") }
            throw FieldError(message: "field \"handler\" must be a function, not a \(what)")
        }
        crescent_pop(L, 1)

        try field(L, t, "name") { i throws(FieldError) in def.name = try nonEmptyString(L, i, "name") }
        try field(L, t, "queue") { i throws(FieldError) in def.queue = try nonEmptyString(L, i, "queue") }
        try field(L, t, "priority") { i throws(FieldError) in
            guard let p = luaInteger(L, i) else {
                throw FieldError(message: "field \"priority\" must be an integer, not \(describe(L, i))")
            }
            do throws(CrescentError) { def.priority = try InputRange.priority(p, "field \"priority\":") } catch { throw FieldError(message: error.message) }
        }
        try field(L, t, "timezone") { i throws(FieldError) in
            let name = try nonEmptyString(L, i, "timezone")
            guard let tz = TimeZone(identifier: name) else {
                throw FieldError(message: "field \"timezone\": unknown time zone \"\(name)\" (use an IANA name like \"Europe/Berlin\" or \"UTC\")")
            }
            def.timezone = tz
        }
        try field(L, t, "schedule") { i throws(FieldError) in
            let text = try nonEmptyString(L, i, "schedule")
            do throws(CrescentError) {
                def.schedule = try Schedule.parse(text)
                def.scheduleText = text
            } catch {
                throw FieldError(message: "field \"schedule\": \(error.message)")
            }
        }
        try field(L, t, "args") { i throws(FieldError) in def.scheduleArgs = try args(L, i, "field \"args\"") }
        try field(L, t, "schedules") { i throws(FieldError) in
            guard def.schedule == nil else {
                throw FieldError(message: "fields \"schedule\" and \"schedules\" cannot both be set (put the schedule into the list)")
            }
            def.schedules = try schedules(L, i, defaultArgs: def.scheduleArgs)
        }
        if luaGetField(L, t, "args") != LUA_TNIL && def.schedule == nil && def.schedules.isEmpty {
            crescent_pop(L, 1)
            throw FieldError(message: "field \"args\" gives a schedule's args: it needs \"schedule\" (or \"schedules\") beside it")
        }
        crescent_pop(L, 1)
        try field(L, t, "enabled") { i throws(FieldError) in
            guard lua_type(L, i) == LUA_TBOOLEAN else {
                throw FieldError(message: "field \"enabled\" must be true or false, not \(describe(L, i))")
            }
            def.enabled = lua_toboolean(L, i) != 0
        }
        try field(L, t, "retention") { i throws(FieldError) in def.retention = try retention(L, i) }
        try field(L, t, "missed") { i throws(FieldError) in
            let text = try nonEmptyString(L, i, "missed")
            guard let m = MissedPolicy(rawValue: text) else {
                throw FieldError(message: "field \"missed\" must be \"skip\", \"once\" or \"all\", not \"\(text)\"")
            }
            def.missed = m
        }
        try field(L, t, "ttl") { i throws(FieldError) in
            let d = try duration(L, i, "ttl")
            guard d > 0 else { throw FieldError(message: "field \"ttl\" must be longer than 0s") }
            def.ttl = d
        }
        try field(L, t, "expires") { i throws(FieldError) in
            let d = try duration(L, i, "expires")
            guard d > 0 else { throw FieldError(message: "field \"expires\" must be longer than 0s") }
            def.expires = d
        }
        try field(L, t, "retry") { i throws(FieldError) in def.retry = try retry(L, i) }
        try field(L, t, "unique") { i throws(FieldError) in
            def.unique = try unique(L, i, isFunction: &uniqueIsFunction)
        }
        return def
    }

    /// Calls `body` with the field's value on the stack when it is present (not nil).
    static func field(_ L: LuaState, _ t: Int32, _ name: String,
                              _ body: (Int32) throws(FieldError) -> Void) throws(FieldError) {
        let type = luaGetField(L, t, name)
        defer { crescent_pop(L, 1) }
        if type == LUA_TNIL { return }
        try body(lua_gettop(L))
    }

    static func describe(_ L: LuaState, _ i: Int32) -> String {
        switch lua_type(L, i) {
        case LUA_TSTRING: return "\"\(luaString(L, i) ?? "")\""
        case LUA_TNUMBER, LUA_TBOOLEAN: return luaDescribe(L, i)
        default: return "a \(luaTypeName(L, i))"
        }
    }

    static func nonEmptyString(_ L: LuaState, _ i: Int32, _ name: String) throws(FieldError) -> String {
        guard let s = luaString(L, i) else {
            throw FieldError(message: "field \"\(name)\" must be a string, not \(describe(L, i))")
        }
        guard !s.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw FieldError(message: "field \"\(name)\" must not be empty")
        }
        return s
    }

    /// A duration: a string like "30s" or a number of seconds.
    static func duration(_ L: LuaState, _ i: Int32, _ name: String) throws(FieldError) -> Double {
        if lua_type(L, i) == LUA_TNUMBER, let d = luaNumber(L, i) {
            guard d.isFinite, d >= 0 else { throw FieldError(message: "field \"\(name)\": duration \(d) must be a non-negative number of seconds") }
            return d
        }
        guard let s = luaString(L, i) else {
            throw FieldError(message: "field \"\(name)\" must be a duration like \"30s\" or a number of seconds, not \(describe(L, i))")
        }
        do { return try DurationText.parse(s) } catch { throw FieldError(message: "field \"\(name)\": \(error.message)") }
    }

    private static func retry(_ L: LuaState, _ i: Int32) throws(FieldError) -> RetryPolicy {
        guard lua_type(L, i) == LUA_TTABLE else {
            throw FieldError(message: "field \"retry\" must be a table like { attempts = 5, backoff = \"exponential\" }, not \(describe(L, i))")
        }
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            crescent_pop(L, 1)
            let key = luaString(L, -1)
            guard let key, retryKeys.contains(key) else {
                let what = key.map { "\"\($0)\"" } ?? luaDescribe(L, -1)
                crescent_pop(L, 1)
                throw FieldError(message: "field \"retry\": unknown key \(what) (keys are: \(retryKeys.joined(separator: ", ")))")
            }
        }
        var policy = RetryPolicy.default
        try field(L, i, "attempts") { v throws(FieldError) in
            guard let n = luaInteger(L, v), n >= 1, let a = Int(exactly: n) else {
                throw FieldError(message: "field \"retry\": attempts must be an integer of at least 1, not \(describe(L, v))")
            }
            policy.attempts = a
        }
        try field(L, i, "backoff") { v throws(FieldError) in
            guard let s = luaString(L, v), let b = RetryPolicy.Backoff(rawValue: s) else {
                throw FieldError(message: "field \"retry\": backoff must be \"exponential\", \"fixed\" or \"linear\", not \(describe(L, v))")
            }
            policy.backoff = b
        }
        try field(L, i, "delay") { v throws(FieldError) in
            do throws(FieldError) { policy.delay = try duration(L, v, "delay") } catch { throw FieldError(message: "field \"retry\": \(error.message.replacingOccurrences(of: "field \"delay\"", with: "delay"))") }
        }
        try field(L, i, "max_delay") { v throws(FieldError) in
            do throws(FieldError) { policy.maxDelay = try duration(L, v, "max_delay") } catch { throw FieldError(message: "field \"retry\": \(error.message.replacingOccurrences(of: "field \"max_delay\"", with: "max_delay"))") }
        }
        try field(L, i, "jitter") { v throws(FieldError) in
            guard let j = luaNumber(L, v), j >= 0, j <= 1 else {
                throw FieldError(message: "field \"retry\": jitter must be a number from 0 to 1, not \(describe(L, v))")
            }
            policy.jitter = j
        }
        let century = 100 * 365.25 * 86400
        guard policy.delay <= century, policy.maxDelay <= century else {
            throw FieldError(message: "field \"retry\": delay and max_delay must be at most 100 years")
        }
        return policy
    }

    private static func unique(_ L: LuaState, _ i: Int32, isFunction: inout Bool) throws(FieldError) -> UniquePolicy? {
        switch lua_type(L, i) {
        case LUA_TBOOLEAN:
            return lua_toboolean(L, i) != 0 ? UniquePolicy(by: .task) : nil
        case LUA_TSTRING:
            switch luaString(L, i) {
            case "args": return UniquePolicy(by: .args)
            case "task": return UniquePolicy(by: .task)
            default: throw FieldError(message: "field \"unique\" must be true, \"args\", \"task\" or a table { by = ..., period = ... }, not \(describe(L, i))")
            }
        case LUA_TTABLE:
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                crescent_pop(L, 1)
                let key = luaString(L, -1)
                guard let key, uniqueKeys.contains(key) else {
                    let what = key.map { "\"\($0)\"" } ?? luaDescribe(L, -1)
                    crescent_pop(L, 1)
                    throw FieldError(message: "field \"unique\": unknown key \(what) (keys are: by, period)")
                }
            }
            var policy = UniquePolicy(by: .task)
            try field(L, i, "by") { v throws(FieldError) in
                if lua_type(L, v) == LUA_TFUNCTION {
                    policy.by = .function
                    isFunction = true
                    return
                }
                switch luaString(L, v) {
                case "args": policy.by = .args
                case "task": policy.by = .task
                default: throw FieldError(message: "field \"unique\": by must be \"args\", \"task\" or a function(args), not \(describe(L, v))")
                }
            }
            try field(L, i, "period") { v throws(FieldError) in
                do throws(FieldError) { policy.period = try duration(L, v, "period") } catch { throw FieldError(message: "field \"unique\": \(error.message.replacingOccurrences(of: "field \"period\"", with: "period"))") }
            }
            return policy
        default:
            throw FieldError(message: "field \"unique\" must be true, \"args\", \"task\" or a table { by = ..., period = ... }, not \(describe(L, i))")
        }
    }
}
