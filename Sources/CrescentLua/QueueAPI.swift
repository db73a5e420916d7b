import CLua
import CLuaShim
import CrescentCore
import Foundation

/// `queue.push(task, args, opts)` with opts `{queue, priority, delay, at, unique}`.
///
/// Returns the new job's id and `false`, or, for a duplicate of an active unique job,
/// the existing id and `true`. The insert is recorded in the attempt's pending pushes
/// and happens only if the attempt succeeds (the runtime inserts the reserved ids).
/// `opts.unique` overrides the target task's policy: `true`/`"task"`, `"args"` or
/// `false` (no uniqueness).
enum QueueAPI {
    static let optionKeys = ["queue", "priority", "delay", "at", "unique"]

    static func push(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("queue.push")
        guard let name = luaString(L, 1) else {
            throw HostError("queue.push: the task name must be a string, not \(TaskValidation.describe(L, 1))")
        }
        guard let host = vm.host else { throw HostError("queue.push is not available here") }
        guard let def = host.task(named: name) else { throw HostError("queue.push: unknown task \"\(name)\"") }

        var args = "{}"
        switch lua_type(L, 2) {
        case LUA_TNIL, LUA_TNONE: break
        case LUA_TTABLE:
            do { args = try LuaJSON.value(L, 2).encoded() } catch { throw HostError("queue.push: args: \(error.message)") }
            guard args.utf8.count <= SizeLimits.args else {
                throw HostError("queue.push: args are \(args.utf8.count) bytes of JSON, more than the \(SizeLimits.describe(SizeLimits.args)) a job's args may hold")
            }
        default:
            throw HostError("queue.push: args must be a table, not \(TaskValidation.describe(L, 2))")
        }

        var queue: String? = nil
        var priority: Int? = nil
        var runAt = Date()
        var uniqueOverride: UniquePolicy?? = nil  // .some(nil): uniqueness switched off
        switch lua_type(L, 3) {
        case LUA_TNIL, LUA_TNONE: break
        case LUA_TTABLE:
            try checkOptionKeys(L, 3, allowed: optionKeys, call: "queue.push")
            if luaGetField(L, 3, "queue") != LUA_TNIL {
                guard let q = luaString(L, -1), !q.isEmpty else { throw HostError("queue.push: opts.queue must be a non-empty string") }
                queue = q
            }
            crescent_pop(L, 1)
            if luaGetField(L, 3, "priority") != LUA_TNIL {
                guard let p = luaInteger(L, -1) else { throw HostError("queue.push: opts.priority must be an integer") }
                do { priority = try InputRange.priority(p, "queue.push: opts.priority") } catch { throw HostError(error.message) }
            }
            crescent_pop(L, 1)
            if luaGetField(L, 3, "delay") != LUA_TNIL {
                let seconds = try durationArgument(L, -1, "queue.push: opts.delay")
                do { runAt = try InputRange.time(after: seconds) } catch { throw HostError("queue.push: opts.delay: \(error.message)") }
            }
            crescent_pop(L, 1)
            switch luaGetField(L, 3, "at") {
            case LUA_TNIL: break
            case LUA_TNUMBER:
                do { runAt = try InputRange.time(epoch: luaNumber(L, -1) ?? .nan) } catch { throw HostError("queue.push: opts.at: \(error.message)") }
            case LUA_TSTRING:
                do { runAt = try TimeText.parse(luaString(L, -1) ?? "") } catch { throw HostError("queue.push: opts.at: \(error.message)") }
            default: throw HostError("queue.push: opts.at must be an ISO 8601 time or epoch seconds")
            }
            crescent_pop(L, 1)
            switch luaGetField(L, 3, "unique") {
            case LUA_TNIL: break
            case LUA_TBOOLEAN: uniqueOverride = .some(lua_toboolean(L, -1) != 0 ? UniquePolicy(by: .task) : nil)
            case LUA_TSTRING where luaString(L, -1) == "task": uniqueOverride = .some(UniquePolicy(by: .task))
            case LUA_TSTRING where luaString(L, -1) == "args": uniqueOverride = .some(UniquePolicy(by: .args))
            default: throw HostError("queue.push: opts.unique must be true, false, \"task\" or \"args\"")
            }
            crescent_pop(L, 1)
        default:
            throw HostError("queue.push: opts must be a table, not \(TaskValidation.describe(L, 3))")
        }

        var key: String? = nil
        var period: Double? = nil
        if let override = uniqueOverride {
            key = override?.key(task: name, args: args)
        } else if let policy = def.unique {
            period = policy.period
            if policy.by == .function {
                key = luaString(L, 4).map { name + ":" + $0 }
            } else {
                key = policy.key(task: name, args: args)
            }
        }

        if let key {
            if let earlier = attempt.pushes.first(where: { $0.uniqueKey == key }), let id = earlier.id {
                lua_pushinteger(L, lua_Integer(id))
                lua_pushboolean(L, 1)
                return 2
            }
            do {
                if let existing = try host.findActiveUnique(key: key, period: period) {
                    lua_pushinteger(L, lua_Integer(existing))
                    lua_pushboolean(L, 1)
                    return 2
                }
            } catch {
                throw HostError("queue.push: \(error)")
            }
        }
        guard attempt.pushes.count < SizeLimits.pushesPerAttempt else {
            throw HostError("queue.push: one attempt may push at most \(SizeLimits.pushesPerAttempt) jobs")
        }
        try attempt.charge(args.utf8.count + name.utf8.count + (key?.utf8.count ?? 0) + 128, vm: vm, "queue.push")
        let id: Int64
        do { id = try host.reserveJobID() } catch { throw HostError("queue.push: \(error)") }
        var params = def.newJob(args: args, queue: queue, priority: priority, runAt: runAt)
        params.id = id
        params.uniqueKey = key
        params.uniquePeriod = key == nil ? nil : period
        attempt.pushes.append(params)
        lua_pushinteger(L, lua_Integer(id))
        lua_pushboolean(L, 0)
        return 2
    }
}
