import CLua
import CLuaShim
import CrescentCore
import Foundation

/// Every host function a VM exposes. Each is a C closure over its number; the C
/// trampoline calls `LuaVM.dispatch`, which never raises: it returns a result count,
/// `CRESCENT_RAISE` (error value on top) or `CRESCENT_YIELD`.
enum HostFunction: Int32, CaseIterable {
    case jsonEncode, jsonDecode
    case logDebug, logInfo, logWarn, logError
    case now, sleep, duration
    case queuePush
    case storeGet, storeSet, storeDelete, storeIncr
    case httpRequest
    case loadlib
    case jobProgress

    var name: String {
        switch self {
        case .jsonEncode: return "json_encode"
        case .jsonDecode: return "json_decode"
        case .logDebug: return "log_debug"
        case .logInfo: return "log_info"
        case .logWarn: return "log_warn"
        case .logError: return "log_error"
        case .now: return "now"
        case .sleep: return "sleep"
        case .duration: return "duration"
        case .queuePush: return "queue_push"
        case .storeGet: return "store_get"
        case .storeSet: return "store_set"
        case .storeDelete: return "store_delete"
        case .storeIncr: return "store_incr"
        case .httpRequest: return "http_request"
        case .loadlib: return "loadlib"
        case .jobProgress: return "job_progress"
        }
    }
}

/// Raised from a host function: the message becomes a Lua error.
struct HostError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Refuses a key of the options table at `index` that is not in `allowed`, naming the call.
func checkOptionKeys(_ L: LuaState, _ index: Int32, allowed: [String], call: String) throws(HostError) {
    lua_pushnil(L)
    while lua_next(L, index) != 0 {
        crescent_pop(L, 1)
        guard let key = luaString(L, -1), allowed.contains(key) else {
            let what = TaskValidation.describe(L, -1)
            crescent_pop(L, 1)
            throw HostError("\(call): unknown option \(what) (options are: \(allowed.joined(separator: ", ")))")
        }
    }
}

extension LuaVM {
    func dispatch(_ L: LuaState, _ fn: HostFunction) -> Int32 {
        let previous = callingState
        callingState = L
        defer { callingState = previous }
        do {
            switch fn {
            case .jsonEncode: return try JSONAPI.encode(self, L)
            case .jsonDecode: return try JSONAPI.decode(self, L)
            case .logDebug: return LogAPI.log(self, L, level: .debug)
            case .logInfo: return LogAPI.log(self, L, level: .info)
            case .logWarn: return LogAPI.log(self, L, level: .warning)
            case .logError: return LogAPI.log(self, L, level: .error)
            case .now: return TimeAPI.now(self, L)
            case .sleep: return try TimeAPI.sleep(self, L)
            case .duration: return try TimeAPI.duration(self, L)
            case .queuePush: return try QueueAPI.push(self, L)
            case .storeGet: return try StoreAPI.get(self, L)
            case .storeSet: return try StoreAPI.set(self, L)
            case .storeDelete: return try StoreAPI.delete(self, L)
            case .storeIncr: return try StoreAPI.incr(self, L)
            case .httpRequest: return try HTTPAPI.request(self, L)
            case .loadlib: return try RequireAPI.loadlib(self, L)
            case .jobProgress: return try ProgressAPI.report(self, L)
            }
        } catch {
            luaPush(L, error.message)
            return CRESCENT_RAISE
        }
    }

    /// The running attempt, for host calls that only make sense inside a handler. The call
    /// must come from that attempt's own coroutines: one created by another job (kept in a
    /// task file's upvalues) or while a task file loaded cannot act for the running one.
    func requireAttempt(_ what: String) throws(HostError) -> Attempt {
        guard let a = current else { throw HostError("\(what) is only available inside a handler") }
        if let L = callingState, crescent_thread_tag(L) != a.serial {
            throw HostError("\(what) cannot be called from a coroutine created outside this job's attempt")
        }
        return a
    }

    /// Checks that `L` may yield to the worker's loop for `what`.
    func checkYieldable(_ L: LuaState, _ attempt: Attempt, _ what: String) throws(HostError) {
        guard L == attempt.co else {
            throw HostError("\(what) cannot be called inside a coroutine created by the handler")
        }
        guard lua_isyieldable(L) != 0 else {
            throw HostError("\(what) cannot be called here (inside a metamethod or an iterator called from C)")
        }
        guard waiter != nil else { throw HostError("\(what) is not available here") }
    }
}

/// A duration argument: a string like "30s" or a number of seconds.
func durationArgument(_ L: LuaState, _ i: Int32, _ what: String) throws(HostError) -> Double {
    if lua_type(L, i) == LUA_TNUMBER, let d = luaNumber(L, i) {
        guard d.isFinite, d >= 0 else { throw HostError("\(what): duration must be a non-negative number of seconds") }
        return d
    }
    guard let s = luaString(L, i) else {
        throw HostError("\(what): expected a duration like \"30s\" or a number of seconds, got \(TaskValidation.describe(L, i))")
    }
    do { return try DurationText.parse(s) } catch { throw HostError("\(what): \(error.message)") }
}
