import CLua
import CLuaShim
import CrescentCore
import Foundation
import Logging

/// Where yielding host calls (sleep, http) hand their waits; the worker implements it.
protocol LuaWaiter: AnyObject {
    func waitSleep(_ attempt: Attempt, seconds: Double)
    func waitHTTP(_ attempt: Attempt, request: HTTPAPI.Request)
}

/// A task loaded into one VM: its settings and its handler (anchored in the registry).
struct InstalledTask {
    var definition: TaskDefinition
    var handlerRef: Int32
    var uniqueRef: Int32?
}

/// One Lua state with Crescent's sandbox, host functions and installed tasks.
///
/// Not thread-safe: each VM is used by one thread at a time (a worker's thread, or the
/// caller of `TaskLoader.load`).
final class LuaVM {
    let L: LuaState
    let config: LuaConfig
    let host: LuaHost?
    let logger: Logger
    weak var waiter: LuaWaiter?

    /// The attempt whose coroutine is running (nil while loading files or idle).
    var current: Attempt?
    /// The Lua thread of the host call being dispatched.
    var callingState: LuaState?
    var modules: [String: TaskSnapshot.File] = [:]
    /// Called before each task file runs (the loader's watch on loads stuck in C).
    var onFileStart: ((TaskSnapshot.File) -> Void)?
    private(set) var tasks: [String: InstalledTask] = [:]

    private(set) var makeEnvRef: Int32 = LUA_NOREF
    private(set) var jobMTRef: Int32 = LUA_NOREF
    private(set) var jobArgsRef: Int32 = LUA_NOREF
    private(set) var snoozeMTRef: Int32 = LUA_NOREF
    private(set) var discardMTRef: Int32 = LUA_NOREF
    private(set) var uniqueFnsRef: Int32 = LUA_NOREF
    /// The job table's methods (`SandboxGlobals` lists them).
    private(set) var jobMethodsRef: Int32 = LUA_NOREF

    private static let registerDispatch: Void = { crescent_set_dispatch(crescentDispatch) }()

    struct InitError: Error, CustomStringConvertible {
        var description: String
    }

    init(config: LuaConfig, host: LuaHost?, logger: Logger) throws {
        _ = LuaVM.registerDispatch
        self.config = config
        self.host = host
        self.logger = logger
        guard let L = crescent_vm_new(max(config.memoryLimit, 1 << 20), nil) else {
            throw InitError(description: "cannot create a Lua state")
        }
        self.L = L
        // The owner pointer is set after init so dispatch can find this VM.
        try setUp()
    }

    deinit {
        crescent_vm_close(L)
    }

    private func setUp() throws {
        crescent_vm_set_owner(L, Unmanaged.passUnretained(self).toOpaque())
        guard crescent_open_libs(L) == LUA_OK else { throw InitError(description: "cannot open the Lua libraries") }
        let prelude = Sandbox.prelude
        var status: Int32 = 0
        prelude.withCString { p in status = crescent_load(L, p, strlen(p), "=crescent") }
        guard status == LUA_OK else { throw InitError(description: "sandbox prelude: \(luaDescribe(L, -1))") }
        // host table
        crescent_newtable(L)
        for fn in HostFunction.allCases {
            crescent_push_host(L, fn.rawValue)
            luaSetField(L, -2, fn.name)
        }
        crescent_push_null(L)
        luaSetField(L, -2, "null")
        crescent_push_memcheck(L)
        luaSetField(L, -2, "memcheck")
        // env data
        lua_createtable(L, 0, Int32(clamping: config.env.count))
        for (k, v) in config.env {
            luaPush(L, v)
            luaSetField(L, -2, k)
        }
        guard crescent_pcall(L, 2, 1, 0) == LUA_OK else {
            throw InitError(description: "sandbox prelude: \(luaDescribe(L, -1))")
        }
        let t = lua_gettop(L)
        luaGetField(L, t, "make_env"); makeEnvRef = luaRef(L)
        luaGetField(L, t, "jobmt"); jobMTRef = luaRef(L)
        luaGetField(L, t, "jobargs"); jobArgsRef = luaRef(L)
        luaGetField(L, t, "snoozemt"); snoozeMTRef = luaRef(L)
        luaGetField(L, t, "discardmt"); discardMTRef = luaRef(L)
        luaGetField(L, t, "unique_fns"); uniqueFnsRef = luaRef(L)
        luaGetField(L, t, "jobmethods"); jobMethodsRef = luaRef(L)
        lua_settop(L, 0)
        _ = crescent_gc_collect(L)
    }

    /// Bytes the VM holds now.
    var memoryUsed: Int { crescent_vm_used(L) }

    /// Runs a coroutine with the memory cap enforced and `ctl`'s deadline watched. `tag` is
    /// the attempt's serial (0 outside attempts): coroutines created meanwhile carry it.
    func resume(_ co: LuaState, ctl: OpaquePointer, tag: UInt64 = 0, nargs: Int32, nres: inout Int32) -> Int32 {
        _ = crescent_vm_take_refused(L)
        crescent_vm_set_current(L, ctl)
        crescent_thread_set_tag(L, tag)
        crescent_vm_set_enforce(L, 1)
        let status = lua_resume(co, L, nargs, &nres)
        crescent_vm_set_enforce(L, 0)
        crescent_thread_set_tag(L, 0)
        crescent_vm_set_current(L, nil)
        return status
    }

    /// Pushes a fresh sandboxed `_ENV` table.
    func pushNewEnv() -> Bool {
        luaPushRef(L, makeEnvRef)
        if crescent_pcall(L, 0, 1, 0) != LUA_OK {
            crescent_pop(L, 1)
            return false
        }
        return true
    }

    // MARK: installing task files

    /// Loads the snapshot's task files. Tasks of files that fail keep their previous
    /// version in this VM; tasks of files that are gone are removed.
    func install(_ snapshot: TaskSnapshot) -> (definitions: [TaskDefinition], errors: [TaskLoadError]) {
        modules = snapshot.modules
        var errors = snapshot.readErrors
        var fresh: [String: InstalledTask] = [:]
        var brokenFiles: Set<String> = []
        for file in snapshot.files {
            if snapshot.stalled.contains(file.displayPath) {
                errors.append(TaskLoadError(file: file.displayPath, line: nil,
                                            message: "load did not finish within \(DurationText.format(config.loadTimeLimit))"))
                brokenFiles.insert(file.displayPath)
                continue
            }
            onFileStart?(file)
            switch loadTaskFile(file) {
            case .failed(let error):
                errors.append(error)
                brokenFiles.insert(file.displayPath)
            case .loaded(let task):
                let name = task.definition.name
                if let other = fresh[name] {
                    errors.append(TaskLoadError(file: file.displayPath, line: nil,
                                                message: "task \"\(name)\" is already defined by \(other.definition.file)"))
                    release(task)
                    brokenFiles.insert(file.displayPath)
                } else {
                    fresh[name] = task
                }
            }
        }
        for (name, old) in tasks {
            if fresh[name] == nil, brokenFiles.contains(old.definition.file) {
                fresh[name] = old
            } else if fresh[name]?.handlerRef != old.handlerRef {
                release(old)
            }
        }
        tasks = fresh
        // unique.by functions for queue.push
        luaPushRef(L, uniqueFnsRef)
        let u = lua_gettop(L)
        lua_pushnil(L)
        var keys: [String] = []
        while lua_next(L, u) != 0 {
            crescent_pop(L, 1)
            if let k = luaString(L, -1) { keys.append(k) }
        }
        for k in keys { lua_pushnil(L); luaSetField(L, u, k) }
        for (name, task) in tasks {
            if let ref = task.uniqueRef {
                luaPushRef(L, ref)
                luaSetField(L, u, name)
            }
        }
        lua_settop(L, 0)
        let definitions = tasks.values.map(\.definition).sorted { $0.name < $1.name }
        return (definitions, errors)
    }

    private func release(_ task: InstalledTask) {
        luaUnref(L, task.handlerRef)
        if let r = task.uniqueRef { luaUnref(L, r) }
    }

    private func loadTaskFile(_ file: TaskSnapshot.File) -> TaskValidation.TaskLoadResult {
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var status: Int32 = 0
        let chunkName = "@" + file.displayPath
        var source = file.source
        source.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { c in
                status = crescent_load(L, c.baseAddress, c.count, chunkName)
            }
        }
        guard status == LUA_OK else {
            return .failed(splitLuaError(luaDescribe(L, -1), file: file.displayPath))
        }
        guard pushNewEnv() else {
            return .failed(TaskLoadError(file: file.displayPath, line: nil, message: "cannot create the task's environment"))
        }
        _ = lua_setupvalue(L, -2, 1)
        guard let co = lua_newthread(L) else {
            return .failed(TaskLoadError(file: file.displayPath, line: nil, message: "cannot create a coroutine"))
        }
        lua_rotate(L, -2, 1)
        lua_xmove(L, co, 1)
        crescent_arm_hook(co)
        let ctl = crescent_ctl_new(crescent_monotonic() + config.loadTimeLimit)!
        defer { crescent_ctl_free(ctl) }
        var nres: Int32 = 0
        status = resume(co, ctl: ctl, nargs: 0, nres: &nres)
        if status == LUA_YIELD {
            return .failed(TaskLoadError(file: file.displayPath, line: nil,
                                          message: "the file yielded while loading (sleep, http and coroutine.yield belong in the handler)"))
        }
        if status != LUA_OK {
            if crescent_ctl_reason(ctl) != CRESCENT_ABORT_NONE {
                return .failed(TaskLoadError(file: file.displayPath, line: nil,
                                              message: "the file ran longer than \(DurationText.format(config.loadTimeLimit)) while loading"))
            }
            if status == LUA_ERRMEM {
                _ = crescent_gc_collect(L)
                return .failed(TaskLoadError(file: file.displayPath, line: nil, message: "memory limit exceeded while loading"))
            }
            return .failed(splitLuaError(luaDescribe(co, -1), file: file.displayPath))
        }
        guard nres >= 1, lua_type(co, lua_gettop(co) - nres + 1) == LUA_TTABLE else {
            let what = nres >= 1 ? luaTypeName(co, lua_gettop(co) - nres + 1) : "nothing"
            return .failed(TaskLoadError(file: file.displayPath, line: nil,
                                          message: "the file must return a table of task settings (it returned \(what))"))
        }
        return TaskValidation.validate(co, lua_gettop(co) - nres + 1, file: file)
    }

    // MARK: unique keys

    /// The unique key for a job of `task` with `args` (canonical JSON), by the task's policy.
    /// For `unique = { by = function }` the function runs here (with a 1 s limit).
    func uniqueKey(task name: String, args: String) throws(CrescentError) -> String? {
        guard let task = tasks[name] else { throw .notFound("unknown task \"\(name)\"") }
        guard let policy = task.definition.unique else { return nil }
        guard policy.by == .function, let ref = task.uniqueRef else { return policy.key(task: name, args: args) }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let decoded: JSONValue
        do { decoded = try JSONValue.decode(args) } catch { throw error }
        guard let co = lua_newthread(L) else { throw .failed("cannot create a coroutine") }
        crescent_arm_hook(co)
        luaPushRef(co, ref)
        if case .object(let o) = decoded, o.isEmpty { crescent_newtable(co) } else { LuaJSON.push(co, decoded) }
        let ctl = crescent_ctl_new(crescent_monotonic() + config.loadTimeLimit)!
        defer { crescent_ctl_free(ctl) }
        var nres: Int32 = 0
        let status = resume(co, ctl: ctl, nargs: 1, nres: &nres)
        guard status == LUA_OK else {
            if status == LUA_YIELD { throw .failed("task \"\(name)\": unique.by function yielded") }
            throw .failed("task \"\(name)\": unique.by function failed: \(luaDescribe(co, -1))")
        }
        guard nres >= 1 else { return nil }
        let i = lua_gettop(co) - nres + 1
        if lua_type(co, i) == LUA_TNIL { return nil }
        return name + ":" + luaDescribe(co, i)
    }
}

/// The one entry point C calls for every host function.
private let crescentDispatch: crescent_dispatch_fn = { state, fn in
    guard let state, let owner = crescent_vm_owner(state) else { return CRESCENT_RAISE }
    let vm = Unmanaged<LuaVM>.fromOpaque(owner).takeUnretainedValue()
    guard let function = HostFunction(rawValue: fn) else {
        luaPush(state, "unknown host function")
        return CRESCENT_RAISE
    }
    return vm.dispatch(state, function)
}
