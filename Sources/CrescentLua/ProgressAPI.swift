import CLua
import CLuaShim
import CrescentCore
import Foundation

/// `job:progress(done, total, note)`: records how far the attempt got. The latest value goes
/// to the host at once (the runtime writes it at most about once a second per job) and with
/// the attempt's outcome (`ExecResult.progress`), so the last one is always kept.
enum ProgressAPI {
    static func report(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("job:progress")
        guard let done = try number(L, 1, "done") else {
            throw HostError("job:progress: done must be a number (job:progress(done, total, note))")
        }
        let total = try number(L, 2, "total")
        var note: String?
        switch lua_type(L, 3) {
        case LUA_TNIL, LUA_TNONE: break
        case LUA_TSTRING:
            let text = luaString(L, 3) ?? ""
            guard text.utf8.count <= JobProgress.maxNote else {
                throw HostError("job:progress: the note is \(text.utf8.count) bytes, more than the \(JobProgress.maxNote) a note may hold")
            }
            note = text
        default:
            throw HostError("job:progress: note must be a string, not \(TaskValidation.describe(L, 3))")
        }
        let progress = JobProgress(done: done, total: total, note: note, at: Date())
        attempt.progress = progress
        vm.host?.reportProgress(jobID: attempt.request.job.id, attempt: attempt.request.job.attempt, progress: progress)
        return 0
    }

    /// A finite number ≥ 0 at `i`, or nil when it is nil.
    private static func number(_ L: LuaState, _ i: Int32, _ name: String) throws(HostError) -> Double? {
        switch lua_type(L, i) {
        case LUA_TNIL, LUA_TNONE: return nil
        case LUA_TNUMBER:
            guard let d = luaNumber(L, i), d.isFinite, d >= 0 else {
                throw HostError("job:progress: \(name) must be a finite number of at least 0, not \(luaDescribe(L, i))")
            }
            return d
        default:
            throw HostError("job:progress: \(name) must be a number, not \(TaskValidation.describe(L, i))")
        }
    }
}
