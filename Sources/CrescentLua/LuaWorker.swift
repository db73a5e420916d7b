import CLua
import CLuaShim
import CrescentCore
import Foundation
import Logging
import Synchronization

/// One Lua VM on its own thread, running each job as a coroutine.
///
/// The thread runs an event loop over a mailbox (submit, resume, cancel, install) and
/// timers (sleep wake-ups, ttl deadlines). A host call that waits (sleep, http) yields
/// the job's coroutine; its result arrives through the mailbox and the loop resumes
/// it, so one VM holds thousands of waiting jobs. Completion callbacks are called on
/// the worker's thread.
public final class LuaWorker: @unchecked Sendable {
    public let index: Int
    private var vm: LuaVM
    private let host: LuaHost
    /// The last installed snapshot, to rebuild the VM from.
    private var lastSnapshot: TaskSnapshot?
    private var needsRebuild = false
    private let config: LuaConfig
    private let logger: Logger

    // Mailbox, guarded by `condition`.
    private let condition = MonotonicCondition()
    private var mailbox: [Message] = []
    private var stopping = false
    private var stopped = false
    private let exited = DispatchSemaphore(value: 0)

    private let inFlightCount = Mutex<Int>(0)
    // jobID → control block of its running attempt, for `cancel` from any thread.
    private let controlsLock = NSLock()
    private var controls: [Int64: OpaquePointer] = [:]

    // Loop-thread state.
    private var attempts: [UInt64: Attempt] = [:]
    private var attemptByJob: [Int64: UInt64] = [:]
    private var timers = TimerHeap()
    private var nextSerial: UInt64 = 0
    private var nextToken: UInt64 = 0
    private let loopThread = Mutex<pthread_t?>(nil)
    /// The attempt whose coroutine the loop is running now, for the watchdog (any thread).
    let executing = Mutex<Execution?>(nil)

    /// What the loop runs now, if anything.
    public var current: Execution? { executing.withLock { $0 } }

    /// The execution the loop has been stuck in since `stallGrace` past its deadline (nil if
    /// none). Such a thread cannot be stopped: the runtime decides what to do (see Pipeline).
    public func stalled(now: Double = crescent_monotonic()) -> Execution? {
        executing.withLock { e in e.flatMap { now >= $0.deadline + Self.stallGrace ? $0 : nil } }
    }

    private func watched(_ a: Attempt, _ body: () -> Void) {
        let job = a.request.job
        executing.withLock { $0 = Execution(jobID: job.id, task: job.task, attempt: job.attempt, deadline: a.deadline) }
        body()
        executing.withLock { $0 = nil }
    }

    private enum Message {
        case submit(ExecRequest, @Sendable (ExecResult) -> Void)
        case resume(serial: UInt64, token: UInt64, payload: ResumePayload)
        case cancel(Int64)
        case call(() -> Void)
    }

    public init(index: Int, config: LuaConfig, host: LuaHost, logger: Logger) throws {
        self.index = index
        self.config = config
        self.logger = logger
        self.host = host
        self.vm = try LuaVM(config: config, host: host, logger: logger)
        vm.waiter = self
        let thread = Thread { [self] in self.runLoop() }
        thread.name = "crescent-lua-\(index)"
        thread.stackSize = 16 << 20
        thread.start()
    }

    /// Timers pending in the loop (ttl deadlines and sleeps); for tests and diagnostics.
    var pendingTimers: Int { onLoop { self.timers.count } ?? 0 }

    /// Attempts submitted and not yet completed.
    public var inFlight: Int { inFlightCount.withLock { $0 } }

    /// Loads the snapshot's task files into this VM (each task its own `_ENV`). New
    /// attempts use them; running attempts finish on the version they started with. A
    /// task whose file broke keeps its previous good version here. Blocks until done.
    @discardableResult
    public func install(_ snapshot: TaskSnapshot) -> [TaskLoadError] {
        onLoop {
            self.lastSnapshot = snapshot
            return self.vm.install(snapshot).errors
        } ?? [TaskLoadError(file: "", line: nil, message: "the Lua worker has stopped")]
    }

    /// The tasks loaded in this VM now.
    public var definitions: [TaskDefinition] {
        onLoop { self.vm.tasks.values.map(\.definition).sorted { $0.name < $1.name } } ?? []
    }

    /// Runs one attempt; `completion` is called on the worker's thread when it ends.
    public func submit(_ request: ExecRequest, completion: @escaping @Sendable (ExecResult) -> Void) {
        submit([request], completion: completion)
    }

    /// Runs several attempts, posted at once (one wake of the worker for the lot);
    /// `completion` is called for each on the worker's thread when it ends.
    public func submit(_ requests: [ExecRequest], completion: @escaping @Sendable (ExecResult) -> Void) {
        guard !requests.isEmpty else { return }
        inFlightCount.withLock { $0 += requests.count }
        if !post(requests.map { .submit($0, completion) }) {
            inFlightCount.withLock { $0 -= requests.count }
            let now = Date()
            for request in requests {
                completion(ExecResult(jobID: request.job.id, attempt: request.job.attempt, outcome: .aborted(reason: "worker shut down"),
                                      startedAt: now, finishedAt: now))
            }
        }
    }

    /// Aborts the running attempt of that job with reason "cancelled" (also one spinning in pure Lua).
    public func cancel(jobID: Int64) {
        controlsLock.lock()
        if let ctl = controls[jobID] { crescent_ctl_request_abort(ctl, CRESCENT_ABORT_CANCEL) }
        controlsLock.unlock()
        _ = post(.cancel(jobID))
    }

    /// For `unique = { by = function(args) ... }`: the key for a job of `task` with
    /// canonical args JSON, computed in this VM. Usable from any thread.
    public func uniqueKey(task: String, args: String) throws -> String? {
        let result: Result<String?, CrescentError>? = onLoop {
            self.executing.withLock {
                $0 = Execution(jobID: nil, task: task, attempt: 0, deadline: crescent_monotonic() + self.config.loadTimeLimit)
            }
            defer { self.executing.withLock { $0 = nil } }
            do throws(CrescentError) { return .success(try self.vm.uniqueKey(task: task, args: args)) } catch { return .failure(error) }
        }
        guard let result else { throw CrescentError.failed("the Lua worker has stopped") }
        return try result.get()
    }

    /// Stops the loop. Attempts still running end with `.aborted("worker shut down")`.
    /// Call it when done with the worker: its thread keeps the worker alive until then.
    public func shutdown() {
        condition.lock()
        let already = stopping
        stopping = true
        condition.signal()
        condition.unlock()
        // From the loop thread itself (a completion callback) the loop stops after this turn.
        if !already && !isLoopThread { exited.wait() }
    }

    deinit {
        shutdown()
    }

    // MARK: mailbox

    private func post(_ message: Message) -> Bool {
        post(CollectionOfOne(message))
    }

    private func post(_ messages: some Collection<Message>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        mailbox.append(contentsOf: messages)
        condition.signal()
        return true
    }

    private var isLoopThread: Bool {
        loopThread.withLock { t in t.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
    }

    /// Runs `body` on the loop thread and waits for its value; nil if the worker stopped.
    private func onLoop<T>(_ body: @escaping () -> T) -> T? {
        if isLoopThread { return body() }
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        guard post(.call({ box.value = body(); done.signal() })) else { return nil }
        done.wait()
        return box.value
    }

    private final class Box<T>: @unchecked Sendable { var value: T? }

    // MARK: the loop

    private func runLoop() {
        loopThread.withLock { $0 = pthread_self() }
        while true {
            condition.lock()
            while mailbox.isEmpty && !stopping {
                if let next = timers.nextTime {
                    let delta = next - crescent_monotonic()
                    if delta <= 0 { break }
                    condition.wait(seconds: delta)
                } else {
                    condition.wait()
                }
            }
            let batch = mailbox
            mailbox.removeAll(keepingCapacity: true)
            let stop = stopping
            condition.unlock()
            for message in batch { handle(message) }
            fireTimers()
            if needsRebuild && attempts.isEmpty { rebuild() }
            if stop { break }
        }
        for a in Array(attempts.values) { finish(a, .aborted(reason: "worker shut down")) }
        condition.lock()
        stopped = true
        let leftovers = mailbox
        mailbox.removeAll()
        condition.unlock()
        for case .call(let body) in leftovers { body() }
        exited.signal()
    }

    private func handle(_ message: Message) {
        switch message {
        case .submit(let request, let completion):
            nextSerial += 1
            let a = Attempt(serial: nextSerial, request: request, logger: logger, completion: completion)
            attempts[a.serial] = a
            attemptByJob[request.job.id] = a.serial
            controlsLock.lock()
            controls[request.job.id] = a.ctl
            controlsLock.unlock()
            a.ttlTimer = timers.push(time: a.deadline, serial: a.serial, token: 0)
            watched(a) { vm.start(a, finish: finish) }
        case .resume(let serial, let token, let payload):
            guard let a = attempts[serial], a.waitToken == token, token != 0 else { return }
            a.waitToken = 0
            watched(a) { vm.resume(a, with: payload, finish: finish) }
        case .cancel(let jobID):
            guard let serial = attemptByJob[jobID], let a = attempts[serial] else { return }
            finish(a, .aborted(reason: "cancelled"))
        case .call(let body):
            body()
        }
    }

    private func rebuild() {
        needsRebuild = false
        do {
            let fresh = try LuaVM(config: config, host: host, logger: logger)
            fresh.waiter = self
            if let snapshot = lastSnapshot { _ = fresh.install(snapshot) }
            vm = fresh
            logger.warning("Lua VM rebuilt after running out of memory", metadata: ["worker": .stringConvertible(index)])
        } catch {
            logger.error("cannot rebuild the Lua VM", metadata: ["worker": .stringConvertible(index), "error": "\(error)"])
        }
    }

    private func fireTimers() {
        let now = crescent_monotonic()
        while let timer = timers.popDue(now: now) {
            guard let a = attempts[timer.serial] else { continue }
            if timer.token == 0 {
                a.ttlTimer = nil
                finish(a, .aborted(reason: "ttl exceeded"))
            } else if a.waitToken == timer.token {
                a.waitToken = 0
                a.sleepTimer = nil
                watched(a) { vm.resume(a, with: .nothing, finish: finish) }
            }
        }
    }

    private func finish(_ a: Attempt, _ ended: ExecOutcome) {
        guard attempts.removeValue(forKey: a.serial) != nil else { return }
        var outcome = ended
        if a.memoryExceeded, case .aborted = ended {} else if a.memoryExceeded {
            outcome = .aborted(reason: "memory limit exceeded")  // its pending effects passed the cap, caught or not
        }
        if let t = a.ttlTimer { timers.remove(id: t) }
        if let t = a.sleepTimer { timers.remove(id: t) }
        let jobID = a.request.job.id
        if attemptByJob[jobID] == a.serial { attemptByJob.removeValue(forKey: jobID) }
        controlsLock.lock()
        if controls[jobID] == a.ctl { controls.removeValue(forKey: jobID) }
        controlsLock.unlock()
        let overMemory = outcome == .aborted(reason: "memory limit exceeded")
        vm.release(a, collect: overMemory)
        if overMemory && vm.memoryUsed > config.memoryLimit / 2 {
            // A full collection left more than half the cap held (state kept by task files):
            // start a fresh VM once no attempt is running on this one.
            needsRebuild = true
        }
        var result = ExecResult(jobID: jobID, attempt: a.request.job.attempt, outcome: outcome,
                                startedAt: a.startedAt, finishedAt: Date())
        result.progress = a.progress
        if case .succeeded = outcome {
            result.pushes = a.pushes
            result.storeWrites = a.storeWrites
            result.storeReads = a.storeReads
        }
        inFlightCount.withLock { $0 -= 1 }
        a.completion(result)
    }
}

extension LuaWorker: LuaWaiter {
    func waitSleep(_ attempt: Attempt, seconds: Double) {
        nextToken += 1
        attempt.waitToken = nextToken
        attempt.sleepTimer = timers.push(time: crescent_monotonic() + seconds, serial: attempt.serial, token: nextToken)
    }

    func waitHTTP(_ attempt: Attempt, request: HTTPAPI.Request) {
        nextToken += 1
        let token = nextToken
        attempt.waitToken = token
        let serial = attempt.serial
        HTTPAPI.execute(request, maxConnectionsPerHost: config.maxConnectionsPerHost, maxBodySize: config.memoryLimit,
                        allowHosts: config.httpAllowHosts) { [weak self] result in
            let payload: ResumePayload
            switch result {
            case .success(let response): payload = .http(response)
            case .failure(let error): payload = .error(error.message)
            }
            _ = self?.post(.resume(serial: serial, token: token, payload: payload))
        }
    }
}

/// Timers of the loop: a binary min-heap on time that can also remove a timer by id
/// (an attempt that ends drops its ttl and sleep timers at once). Token 0 is an
/// attempt's ttl deadline; other tokens wake a sleeping attempt.
struct TimerHeap {
    struct Timer { var time: Double; var id: UInt64; var serial: UInt64; var token: UInt64 }
    private var items: [Timer] = []
    private var positions: [UInt64: Int] = [:]
    private var lastID: UInt64 = 0

    var nextTime: Double? { items.first?.time }
    var count: Int { items.count }

    @discardableResult
    mutating func push(time: Double, serial: UInt64, token: UInt64) -> UInt64 {
        lastID += 1
        items.append(Timer(time: time, id: lastID, serial: serial, token: token))
        positions[lastID] = items.count - 1
        siftUp(items.count - 1)
        return lastID
    }

    mutating func remove(id: UInt64) {
        guard let i = positions.removeValue(forKey: id) else { return }
        let last = items.count - 1
        if i != last {
            items[i] = items[last]
            positions[items[i].id] = i
        }
        items.removeLast()
        if i < items.count {
            siftDown(i)
            siftUp(i)
        }
    }

    mutating func popDue(now: Double) -> Timer? {
        guard let first = items.first, first.time <= now else { return nil }
        remove(id: first.id)
        return first
    }

    private mutating func swap(_ i: Int, _ j: Int) {
        items.swapAt(i, j)
        positions[items[i].id] = i
        positions[items[j].id] = j
    }

    private mutating func siftUp(_ start: Int) {
        var i = start
        while i > 0 {
            let p = (i - 1) / 2
            if items[p].time <= items[i].time { break }
            swap(p, i)
            i = p
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l].time < items[m].time { m = l }
            if r < items.count, items[r].time < items[m].time { m = r }
            if m == i { return }
            swap(m, i)
            i = m
        }
    }
}
