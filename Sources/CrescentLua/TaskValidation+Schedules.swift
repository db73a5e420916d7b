import CLua
import CLuaShim
import CrescentCore
import Foundation

// `args`, `schedules` and `retention` of a task file.
extension TaskValidation {
    static let scheduleEntryKeys = ["schedule", "cron", "every", "at", "args", "name"]

    /// A Lua table of args → canonical JSON text (an object or array, at most `SizeLimits.args`).
    static func args(_ L: LuaState, _ i: Int32, _ what: String) throws(FieldError) -> String {
        guard lua_type(L, i) == LUA_TTABLE else {
            throw FieldError(message: "\(what) must be a table like { kind = \"hourly\" }, not \(describe(L, i))")
        }
        let value: JSONValue
        do throws(LuaJSON.EncodeError) { value = try LuaJSON.value(L, i) } catch {
            throw FieldError(message: "\(what): \(error.message)")
        }
        let text = value.encoded()
        guard text.utf8.count <= SizeLimits.args else {
            throw FieldError(message: "\(what) are \(text.utf8.count) bytes of JSON, more than the \(SizeLimits.describe(SizeLimits.args)) a job's args may hold")
        }
        return text
    }

    /// `schedules = { { cron = "0 * * * *", args = {…} }, { every = "5m", name = "poll" }, … }`.
    static func schedules(_ L: LuaState, _ i: Int32, defaultArgs: String) throws(FieldError) -> [TaskSchedule] {
        guard lua_type(L, i) == LUA_TTABLE else {
            throw FieldError(message: "field \"schedules\" must be a list of tables like { cron = \"0 * * * *\", args = {…} }, not \(describe(L, i))")
        }
        let count = Int(lua_rawlen(L, i))
        // Only 1..n: a key of another kind is a mistake (a schedule written as a map).
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            crescent_pop(L, 1)
            let key = luaInteger(L, -1)
            if lua_type(L, -1) != LUA_TNUMBER || key == nil || key! < 1 || key! > Int64(count) {
                let what = describe(L, -1)
                crescent_pop(L, 1)
                throw FieldError(message: "field \"schedules\" must be a list (1, 2, …), found the key \(what)")
            }
        }
        guard count > 0 else { throw FieldError(message: "field \"schedules\" must not be empty (leave it out, or set enabled = false)") }
        guard count <= 100 else { throw FieldError(message: "field \"schedules\" has \(count) entries, more than 100") }
        var out: [TaskSchedule] = []
        for n in 1...count {
            lua_rawgeti(L, i, lua_Integer(n))
            defer { crescent_pop(L, 1) }
            let entry = lua_gettop(L)
            do throws(FieldError) {
                out.append(try scheduleEntry(L, entry, position: n, defaultArgs: defaultArgs))
            } catch {
                throw FieldError(message: "field \"schedules\", entry \(n): \(error.message)")
            }
            if let clash = out.dropLast().first(where: { $0.id == out.last!.id }) {
                throw FieldError(message: "field \"schedules\", entry \(n): name \"\(clash.id)\" is used twice (each entry needs its own name)")
            }
        }
        return out
    }

    private static func scheduleEntry(_ L: LuaState, _ e: Int32, position: Int, defaultArgs: String) throws(FieldError) -> TaskSchedule {
        guard lua_type(L, e) == LUA_TTABLE else {
            throw FieldError(message: "must be a table like { cron = \"0 * * * *\" }, not \(describe(L, e))")
        }
        lua_pushnil(L)
        while lua_next(L, e) != 0 {
            crescent_pop(L, 1)
            let key = luaString(L, -1)
            guard let key, scheduleEntryKeys.contains(key) else {
                let what = key.map { "\"\($0)\"" } ?? luaDescribe(L, -1)
                crescent_pop(L, 1)
                throw FieldError(message: "unknown key \(what) (keys are: \(scheduleEntryKeys.joined(separator: ", ")))")
            }
        }
        var text: String?
        var given: [String] = []
        for key in ["schedule", "cron", "every", "at"] {
            try field(L, e, key) { v throws(FieldError) in
                let s = try nonEmptyString(L, v, key)
                given.append(key)
                switch key {
                case "every": text = "every " + s
                case "at": text = "at " + s
                default: text = s
                }
            }
        }
        guard given.count == 1, let text else {
            throw FieldError(message: given.isEmpty
                ? "needs one of cron = \"…\", every = \"…\", at = \"…\" or schedule = \"…\""
                : "give only one of \(given.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        let parsed: Schedule
        do throws(CrescentError) { parsed = try Schedule.parse(text) } catch {
            throw FieldError(message: "\"\(given[0])\": \(error.message)")
        }
        if given[0] == "cron" && (parsed.intervalSeconds != nil || parsed.isOneTime) {
            throw FieldError(message: "\"cron\" = \"\(text)\" is not a cron line (use every = \"…\" or at = \"…\")")
        }
        var id = String(position)
        try field(L, e, "name") { v throws(FieldError) in
            id = try nonEmptyString(L, v, "name")
            guard id.count <= 100, !id.contains(where: { $0.isNewline }) else {
                throw FieldError(message: "field \"name\" must be one line of at most 100 characters")
            }
        }
        var argsText = defaultArgs
        try field(L, e, "args") { v throws(FieldError) in argsText = try args(L, v, "field \"args\"") }
        return TaskSchedule(id: id, schedule: parsed, text: text, args: argsText)
    }

    /// `retention = { succeeded = "0s", dead = "7d" }`: durations per finished state.
    static func retention(_ L: LuaState, _ i: Int32) throws(FieldError) -> TaskRetention {
        guard lua_type(L, i) == LUA_TTABLE else {
            throw FieldError(message: "field \"retention\" must be a table like { succeeded = \"0s\", dead = \"7d\" }, not \(describe(L, i))")
        }
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            crescent_pop(L, 1)
            let key = luaString(L, -1)
            guard let key, TaskRetention.states.contains(key) else {
                let what = key.map { "\"\($0)\"" } ?? luaDescribe(L, -1)
                crescent_pop(L, 1)
                throw FieldError(message: "field \"retention\": unknown state \(what) (states are: \(TaskRetention.states.joined(separator: ", ")))")
            }
        }
        var r = TaskRetention()
        let century = 100 * 365.25 * 86400
        for name in TaskRetention.states {
            try field(L, i, name) { v throws(FieldError) in
                let d: Double
                do throws(FieldError) { d = try duration(L, v, name) } catch {
                    throw FieldError(message: "field \"retention\": \(error.message.replacingOccurrences(of: "field \"\(name)\"", with: name))")
                }
                guard d <= century else { throw FieldError(message: "field \"retention\": \(name) must be at most 100 years") }
                switch name {
                case "succeeded": r.succeeded = d
                case "dead": r.dead = d
                case "cancelled": r.cancelled = d
                default: r.expired = d
                }
            }
        }
        return r
    }
}
