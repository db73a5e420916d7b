/// How a failed job is retried (SPEC §2 "Retry").
public struct RetryPolicy: Sendable, Equatable {
    public enum Backoff: String, Sendable, CaseIterable {
        case exponential, fixed, linear
    }

    /// Total attempts, the first included.
    public var attempts: Int
    public var backoff: Backoff
    /// Base delay in seconds.
    public var delay: Double
    public var maxDelay: Double
    /// Relative spread, 0.1 = ±10 %.
    public var jitter: Double

    public static let `default` = RetryPolicy(attempts: 5, backoff: .exponential, delay: 15, maxDelay: 3600, jitter: 0.1)

    public init(attempts: Int, backoff: Backoff, delay: Double, maxDelay: Double, jitter: Double) {
        self.attempts = attempts; self.backoff = backoff; self.delay = delay; self.maxDelay = maxDelay; self.jitter = jitter
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based), before jitter.
    public func baseDelay(afterAttempt attempt: Int) -> Double {
        let n = Double(max(attempt, 1))
        let raw: Double
        switch backoff {
        case .fixed: raw = delay
        case .linear: raw = delay * n
        case .exponential: raw = delay * pow2(n - 1)
        }
        return min(raw, maxDelay)
    }

    /// Seconds to wait after failed attempt `attempt`, with jitter drawn from `unit` in [0, 1).
    public func delay(afterAttempt attempt: Int, unit: Double = Double.random(in: 0..<1)) -> Double {
        let base = baseDelay(afterAttempt: attempt)
        let spread = base * jitter * (unit * 2 - 1)
        return max(0, base + spread)
    }

    private func pow2(_ e: Double) -> Double {
        e >= 62 ? Double.greatestFiniteMagnitude : Double(UInt64(1) << UInt64(e))
    }
}
