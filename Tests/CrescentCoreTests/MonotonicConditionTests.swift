import CrescentCore
import Foundation
import Testing

/// Timed waits on the monotonic clock: they time out, and a signal ends them early.
@Suite struct MonotonicConditionTests {
    @Test func timedWaitTimesOutAndASignalEndsIt() {
        let c = MonotonicCondition()
        c.lock()
        let start = ProcessInfo.processInfo.systemUptime
        let signalled = c.wait(seconds: 0.05)
        let waited = ProcessInfo.processInfo.systemUptime - start
        c.unlock()
        #expect(!signalled)
        #expect(waited >= 0.045)

        let box = Box()
        let waker = Thread {
            while true {
                c.lock()
                let ready = box.waiting
                if ready { box.woken = true; c.signal() }
                c.unlock()
                if ready { return }
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        c.lock()
        box.waiting = true
        waker.start()
        while !box.woken { _ = c.wait(seconds: 60) }
        c.unlock()
        #expect(box.woken)
    }

    @Test func aNegativeTimeoutReturnsAtOnce() {
        let c = MonotonicCondition()
        c.lock()
        #expect(!c.wait(seconds: -1))
        c.unlock()
    }

    final class Box: @unchecked Sendable {
        var waiting = false
        var woken = false
    }
}
