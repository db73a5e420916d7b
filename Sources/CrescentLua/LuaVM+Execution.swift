import CLua
import CLuaShim
import CrescentCore
import Foundation

/// What a suspended coroutine is resumed with.
enum ResumePayload: Sendable {
    case nothing
    case error(String)
    case http(HTTPAPI.Response)
}

extension LuaVM {
    /// Starts an attempt: a new coroutine calling the task's handler with the job table.
    /// Runs until the handler finishes or waits; `finish` is called when it ends.
    func start(_ a: Attempt, finish: (Attempt, ExecOutcome) -> Void) {
        let job = a.request.job
        guard let task = tasks[job.task] else {
            finish(a, .failed(message: "task \"\(job.task)\" is not loaded on this worker", traceback: nil))
            return
        }
        guard let co = lua_newthread(L) else {
            finish(a, .failed(message: "cannot create a coroutine", traceback: nil))
            return
        }
        a.coRef = luaRef(L)
        a.co = co
        crescent_thread_set_tag(co, a.serial)
        crescent_arm_hook(co)
        luaPushRef(co, task.handlerRef)
        pushJob(co, job)
        run(a, nargs: 1, finish: finish)
    }

    /// Resumes a waiting attempt with the result of its host call.
    func resume(_ a: Attempt, with payload: ResumePayload, finish: (Attempt, ExecOutcome) -> Void) {
        guard let co = a.co else { return }
        guard lua_checkstack(co, 5) != 0 else {
            finish(a, .failed(message: "Lua stack overflow", traceback: nil))
            return
        }
        var n: Int32
        switch payload {
        case .nothing:
            lua_pushboolean(co, 1)
            n = 1
        case .error(let message):
            lua_pushboolean(co, 0)
            luaPush(co, message)
            n = 2
        case .http(let response):
            lua_pushboolean(co, 1)
            n = 1 + HTTPAPI.push(co, response)
        }
        run(a, nargs: n, finish: finish)
    }

    /// Drops an attempt's coroutine (after it finished or was abandoned).
    func release(_ a: Attempt, collect: Bool) {
        if a.coRef != LUA_NOREF {
            luaUnref(L, a.coRef)
            a.coRef = LUA_NOREF
        }
        a.co = nil
        if collect { _ = crescent_gc_collect(L) }
    }

    private func pushJob(_ co: LuaState, _ job: Job) {
        lua_createtable(co, 0, 8)
        lua_pushinteger(co, lua_Integer(job.id)); luaSetField(co, -2, "id")
        luaPush(co, job.task); luaSetField(co, -2, "task")
        luaPush(co, job.queue); luaSetField(co, -2, "queue")
        lua_pushinteger(co, lua_Integer(job.attempt)); luaSetField(co, -2, "attempt")
        lua_pushinteger(co, lua_Integer(job.priority)); luaSetField(co, -2, "priority")
        lua_pushinteger(co, lua_Integer(job.maxAttempts)); luaSetField(co, -2, "max_attempts")
        if let s = job.scheduledFor { luaPush(co, TimeText.format(s)); luaSetField(co, -2, "scheduled_for") }
        // Args are decoded on first access to job.args (the metatable's __index), from a
        // weak table the job's code cannot reach.
        luaPushRef(co, jobArgsRef)
        lua_pushvalue(co, -2)
        luaPush(co, job.args)
        lua_rawset(co, -3)
        crescent_pop(co, 1)
        luaPushRef(co, jobMTRef)
        lua_setmetatable(co, -2)
    }

    private func run(_ a: Attempt, nargs: Int32, finish: (Attempt, ExecOutcome) -> Void) {
        guard let co = a.co else { return }
        var nres: Int32 = 0
        current = a
        let status = resume(co, ctl: a.ctl, tag: a.serial, nargs: nargs, nres: &nres)
        current = nil
        // Ended by an abort (the hook's, or a host call's check) or past its deadline.
        if status == LUA_OK || status == LUA_YIELD, let reason = abortReason(a) {
            if status == LUA_YIELD { crescent_pop(co, nres) }
            finish(a, .aborted(reason: reason))
            return
        }
        switch status {
        case LUA_YIELD:
            crescent_pop(co, nres)
            if a.waitToken == 0 {
                finish(a, .failed(message: "the handler yielded outside a host call (coroutine.yield outside a coroutine)", traceback: nil))
            }
        case LUA_OK:
            finish(a, returnOutcome(co, nres: nres))
        default:
            finish(a, errorOutcome(a, co, status: status))
        }
    }

    private func returnOutcome(_ co: LuaState, nres: Int32) -> ExecOutcome {
        guard nres > 0 else { return .succeeded(result: "null") }
        let i = lua_gettop(co) - nres + 1
        if lua_type(co, i) == LUA_TTABLE, lua_getmetatable(co, i) != 0 {
            luaPushRef(co, snoozeMTRef)
            let snooze = lua_rawequal(co, -1, -2) != 0
            crescent_pop(co, 1)
            luaPushRef(co, discardMTRef)
            let discard = lua_rawequal(co, -1, -2) != 0
            crescent_pop(co, 2)
            if snooze {
                luaGetField(co, i, "seconds")
                let seconds = luaNumber(co, -1) ?? 0
                crescent_pop(co, 1)
                do { _ = try InputRange.time(after: seconds) } catch {
                    return .failed(message: "job:snooze: \(error.message)", traceback: nil)
                }
                return .snoozed(seconds: seconds)
            }
            if discard {
                luaGetField(co, i, "reason")
                let reason = luaString(co, -1) ?? "discarded"
                crescent_pop(co, 1)
                return .discarded(reason: reason)
            }
        }
        do {
            let result = try LuaJSON.value(co, i).encoded()
            guard result.utf8.count <= SizeLimits.result else {
                return .failed(message: "the handler returned \(result.utf8.count) bytes of JSON, more than the \(SizeLimits.describe(SizeLimits.result)) a result may hold",
                               traceback: nil)
            }
            return .succeeded(result: result)
        } catch {
            return .failed(message: "the handler returned a value JSON cannot hold: \(error.message)", traceback: nil)
        }
    }

    /// Why the attempt must end now, whatever its coroutine did: an abort was requested, or
    /// its deadline has passed (checked again here, at the end of the handler).
    private func abortReason(_ a: Attempt) -> String? {
        switch crescent_ctl_reason(a.ctl) {
        case CRESCENT_ABORT_TTL: return "ttl exceeded"
        case CRESCENT_ABORT_CANCEL: return "cancelled"
        case CRESCENT_ABORT_MEMORY: return "memory limit exceeded"
        default: return crescent_monotonic() >= a.deadline ? "ttl exceeded" : nil
        }
    }

    private func errorOutcome(_ a: Attempt, _ co: LuaState, status: Int32) -> ExecOutcome {
        if let reason = abortReason(a) { return .aborted(reason: reason) }
        let refused = crescent_vm_take_refused(L) != 0
        let message = errorText(co, -1)
        if status == LUA_ERRMEM || (refused && message.contains("not enough memory")) {
            return .aborted(reason: "memory limit exceeded")
        }
        crescent_traceback(L, co, message)
        let traceback = luaString(L, -1)
        crescent_pop(L, 1)
        return .failed(message: message, traceback: traceback)
    }

    private func errorText(_ L: LuaState, _ i: Int32) -> String {
        switch lua_type(L, i) {
        case LUA_TSTRING, LUA_TNUMBER: return luaDescribe(L, i)
        case LUA_TNIL: return "error(nil)"
        case LUA_TTABLE:
            if let v = try? LuaJSON.value(L, i) { return "error object: \(v.encoded())" }
            return "(error object is a table)"
        default: return "(error object is a \(luaTypeName(L, i)) value)"
        }
    }
}
