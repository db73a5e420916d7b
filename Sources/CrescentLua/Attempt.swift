import CLua
import CLuaShim
import CrescentCore
import Foundation
import Logging

/// One attempt of one job on a VM: its coroutine, control block and pending effects.
final class Attempt {
    let serial: UInt64
    let request: ExecRequest
    let completion: @Sendable (ExecResult) -> Void
    /// Deadline and abort flag shared with the count hook (and `cancel` from any thread).
    let ctl: OpaquePointer
    let deadline: Double
    let startedAt = Date()
    /// The job's coroutine, anchored in the registry by `coRef` while the attempt lives.
    var co: LuaState?
    var coRef: Int32 = LUA_NOREF
    var pushes: [JobInsertParams] = []
    var storeWrites: [StoreWrite] = []
    /// Committed store values read (`StoreAPI`), checked when the success commits.
    var storeReads: [StoreRead] = []
    /// The last `job:progress`, handed back with the outcome.
    var progress: JobProgress?
    /// Bytes of pending pushes and store writes, charged against the VM's memory cap.
    var pendingBytes = 0
    /// Pending effects passed the memory cap: the attempt ends `memory limit exceeded`
    /// even if the handler caught the error.
    var memoryExceeded = false
    /// Non-zero while the coroutine waits for a host call (sleep, http) with this token.
    var waitToken: UInt64 = 0
    /// The loop's timers for this attempt, removed when it ends.
    var ttlTimer: UInt64?
    var sleepTimer: UInt64?
    private let baseLogger: Logger

    init(serial: UInt64, request: ExecRequest, logger: Logger, completion: @escaping @Sendable (ExecResult) -> Void) {
        self.serial = serial
        self.request = request
        self.completion = completion
        self.baseLogger = logger
        self.deadline = crescent_monotonic() + max(0, request.ttl)
        self.ctl = crescent_ctl_new(deadline)!
    }

    deinit { crescent_ctl_free(ctl) }

    lazy var logger: Logger = {
        var l = baseLogger
        let job = request.job
        l[metadataKey: "job.id"] = .stringConvertible(job.id)
        l[metadataKey: "task"] = .string(job.task)
        l[metadataKey: "queue"] = .string(job.queue)
        l[metadataKey: "attempt"] = .stringConvertible(job.attempt)
        return l
    }()
}

extension Attempt {
    /// Charges `bytes` of a pending push or store write to the attempt; refuses it when the
    /// VM's memory in use and the attempt's pending bytes would pass the VM's cap.
    func charge(_ bytes: Int, vm: LuaVM, _ what: String) throws(HostError) {
        let limit = vm.config.memoryLimit
        guard pendingBytes + bytes + vm.memoryUsed <= limit else {
            memoryExceeded = true
            throw HostError("\(what): memory limit exceeded (the attempt's pending store writes and pushes would pass the \(limit >> 20) MB memory cap)")
        }
        pendingBytes += bytes
    }
}
