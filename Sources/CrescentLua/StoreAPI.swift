import CLua
import CLuaShim
import CrescentCore

/// `store.get(key)`, `store.set(key, value)`, `store.delete(key)`, `store.incr(key, n)`: a
/// key–value map per task (the namespace is the job's task). Writes are pending in the
/// attempt and are applied by the runtime only when it succeeds; `get` sees them first.
///
/// A `get` of a key the attempt has not set or deleted before reads the committed value and
/// records it (`Attempt.storeReads`): if another attempt changes that key before this one
/// commits, this one's success is not applied and it runs again (run outcome `conflict`).
/// `incr` records no read: its increment is applied to whatever the key holds at commit.
enum StoreAPI {
    private static func key(_ L: LuaState, _ what: String) throws(HostError) -> String {
        guard let k = luaString(L, 1), !k.isEmpty else {
            throw HostError("\(what): the key must be a non-empty string, not \(TaskValidation.describe(L, 1))")
        }
        return k
    }

    /// The key's value as the attempt sees it (nil: absent): its own last set or delete with
    /// its increments after it, or else the committed value (recorded as a read when
    /// `record`) with all its increments.
    private static func visible(_ vm: LuaVM, _ attempt: Attempt, _ k: String, record: Bool, _ what: String) throws(HostError) -> JSONValue? {
        let task = attempt.request.job.task
        var base: JSONValue?
        var increments = attempt.storeWrites.filter { $0.key == k && $0.task == task }
        if let last = increments.lastIndex(where: { !$0.increment }) {
            base = increments[last].value.flatMap { try? JSONValue.decode($0) }
            increments = Array(increments[(last + 1)...])
        } else {
            guard let host = vm.host else { throw HostError("\(what) is not available here") }
            let text: String?
            do { text = try host.storeGetText(task: task, key: k) } catch { throw HostError("\(what): \(error)") }
            if record, !attempt.storeReads.contains(where: { $0.key == k && $0.task == task && $0.value == text }) {
                attempt.storeReads.append(StoreRead(task: task, key: k, value: text))
            }
            base = text.flatMap { try? JSONValue.decode($0) }
        }
        for w in increments {
            guard let delta = w.value.flatMap({ try? JSONValue.decode($0) }), let sum = (base ?? .int(0)).adding(delta) else { break }
            base = sum
        }
        return base
    }

    static func get(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.get")
        let k = try key(L, "store.get")
        if let value = try visible(vm, attempt, k, record: true, "store.get") { LuaJSON.push(L, value) } else { lua_pushnil(L) }
        return 1
    }

    static func set(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.set")
        let k = try key(L, "store.set")
        if lua_type(L, 2) == LUA_TNIL || lua_type(L, 2) == LUA_TNONE {
            try record(vm, attempt, StoreWrite(task: attempt.request.job.task, key: k, value: nil), "store.set")
            return 0
        }
        let value: JSONValue
        do { value = try LuaJSON.value(L, 2) } catch { throw HostError("store.set: \(error.message)") }
        let text = value.encoded()
        guard text.utf8.count <= SizeLimits.storeValue else {
            throw HostError("store.set: the value of \"\(k)\" is \(text.utf8.count) bytes of JSON, more than the \(SizeLimits.describe(SizeLimits.storeValue)) a store value may hold")
        }
        try record(vm, attempt, StoreWrite(task: attempt.request.job.task, key: k, value: text), "store.set")
        return 0
    }

    static func delete(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.delete")
        let k = try key(L, "store.delete")
        try record(vm, attempt, StoreWrite(task: attempt.request.job.task, key: k, value: nil), "store.delete")
        return 0
    }

    /// `store.incr(key, n)`: adds `n` (default 1) to the key's number (a missing key counts
    /// as 0) when the attempt succeeds, without a conflict with other attempts' increments;
    /// returns the new value as this attempt sees it.
    static func incr(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.incr")
        let k = try key(L, "store.incr")
        let delta: JSONValue
        switch lua_type(L, 2) {
        case LUA_TNIL, LUA_TNONE: delta = .int(1)
        case LUA_TNUMBER:
            if lua_isinteger(L, 2) != 0, let i = luaInteger(L, 2) {
                delta = .int(i)
            } else if let d = luaNumber(L, 2), d.isFinite {
                delta = .double(d)
            } else {
                throw HostError("store.incr: the increment must be a finite number")
            }
        default:
            throw HostError("store.incr: the increment must be a number, not \(TaskValidation.describe(L, 2))")
        }
        let current = try visible(vm, attempt, k, record: false, "store.incr")
        guard let sum = (current ?? .int(0)).adding(delta) else {
            throw HostError("store.incr: \"\(k)\" holds \(describe(current)), not a number")
        }
        try record(vm, attempt, StoreWrite(task: attempt.request.job.task, key: k, value: delta.encoded(), increment: true), "store.incr")
        LuaJSON.push(L, sum)
        return 1
    }

    private static func describe(_ value: JSONValue?) -> String {
        switch value {
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        case .bool: return "a boolean"
        default: return "null"
        }
    }

    /// Adds a write to the attempt's pending ones, charged to the VM's memory cap.
    private static func record(_ vm: LuaVM, _ attempt: Attempt, _ write: StoreWrite, _ what: String) throws(HostError) {
        try attempt.charge(write.key.utf8.count + (write.value?.utf8.count ?? 0) + 64, vm: vm, what)
        attempt.storeWrites.append(write)
    }
}
