import CLuaShim

extension LuaWorker {
    /// What the loop is running: an attempt's coroutine, or a task's `unique.by` function.
    public struct Execution: Sendable {
        public var jobID: Int64?
        public var task: String
        public var attempt: Int
        /// Monotonic seconds (`LuaWorker.now`) by which the VM should have come back.
        public var deadline: Double
    }

    /// How long past its deadline the VM may stay in one call (a C call the count hook cannot
    /// stop, such as a pathological pattern) before `stalled` reports it.
    public static let stallGrace = 3.0

    /// Monotonic seconds, the clock of `Execution.deadline`.
    public static var now: Double { crescent_monotonic() }
}
