import CLua
import CLuaShim
import Foundation

/// `now()` and `sleep(d)`; `sleep` yields the job and a timer in the worker's loop
/// resumes it, so other jobs on the VM keep running.
enum TimeAPI {
    static func now(_ vm: LuaVM, _ L: LuaState) -> Int32 {
        lua_pushnumber(L, Date().timeIntervalSince1970)
        return 1
    }

    static func sleep(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let seconds = try durationArgument(L, 1, "sleep")
        let attempt = try vm.requireAttempt("sleep")
        try vm.checkYieldable(L, attempt, "sleep")
        vm.waiter?.waitSleep(attempt, seconds: seconds)
        return CRESCENT_YIELD
    }

    /// `duration(d, what)`: seconds of a duration argument (used by job:snooze).
    static func duration(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let what = luaString(L, 2) ?? "duration"
        lua_pushnumber(L, try durationArgument(L, 1, what))
        return 1
    }
}
