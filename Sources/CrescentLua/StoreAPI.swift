import CLua
import CLuaShim
import CrescentCore

/// `store.get(key)`, `store.set(key, value)`, `store.delete(key)`: a key–value map per
/// task (the namespace is the job's task). Writes are pending in the attempt and are
/// applied by the runtime only when it succeeds; `get` sees them first.
enum StoreAPI {
    private static func key(_ L: LuaState, _ what: String) throws(HostError) -> String {
        guard let k = luaString(L, 1), !k.isEmpty else {
            throw HostError("\(what): the key must be a non-empty string, not \(TaskValidation.describe(L, 1))")
        }
        return k
    }

    static func get(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.get")
        let k = try key(L, "store.get")
        let task = attempt.request.job.task
        if let pending = attempt.storeWrites.last(where: { $0.key == k && $0.task == task }) {
            guard let text = pending.value, let value = try? JSONValue.decode(text) else { lua_pushnil(L); return 1 }
            LuaJSON.push(L, value)
            return 1
        }
        guard let host = vm.host else { throw HostError("store.get is not available here") }
        do {
            if let value = try host.storeGet(task: task, key: k) { LuaJSON.push(L, value) } else { lua_pushnil(L) }
        } catch {
            throw HostError("store.get: \(error)")
        }
        return 1
    }

    static func set(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.set")
        let k = try key(L, "store.set")
        if lua_type(L, 2) == LUA_TNIL || lua_type(L, 2) == LUA_TNONE {
            attempt.storeWrites.append(StoreWrite(task: attempt.request.job.task, key: k, value: nil))
            return 0
        }
        let value: JSONValue
        do { value = try LuaJSON.value(L, 2) } catch { throw HostError("store.set: \(error.message)") }
        attempt.storeWrites.append(StoreWrite(task: attempt.request.job.task, key: k, value: value.encoded()))
        return 0
    }

    static func delete(_ vm: LuaVM, _ L: LuaState) throws(HostError) -> Int32 {
        let attempt = try vm.requireAttempt("store.delete")
        let k = try key(L, "store.delete")
        attempt.storeWrites.append(StoreWrite(task: attempt.request.job.task, key: k, value: nil))
        return 0
    }
}
