import Foundation

/// `crescent bench`'s progress on a terminal: one line on standard error, rewritten in place
/// at most every 0.25 s ("draining 10000 jobs… 2.5 s"), cleared before each result line.
/// Nothing at all when standard error is not a terminal (a log, a pipe, CI).
final class BenchProgress {
    private let enabled = isatty(STDERR_FILENO) == 1
    private var phase = ""
    private var phaseStart = Date()
    private var lastDraw = Date.distantPast
    private var shown = false

    func show(_ what: String) {
        guard enabled else { return }
        let now = Date()
        if what != phase { phase = what; phaseStart = now; lastDraw = .distantPast }
        guard now.timeIntervalSince(lastDraw) >= 0.25 else { return }
        lastDraw = now
        write("\r\u{1B}[K" + what + "… " + String(format: "%.1f s", now.timeIntervalSince(phaseStart)))
        shown = true
    }

    /// A phase without a loop to redraw from: shown once until cleared.
    func note(_ what: String) {
        guard enabled else { return }
        write("\r\u{1B}[K" + what + "…")
        shown = true
    }

    func clear() {
        guard enabled, shown else { return }
        write("\r\u{1B}[K")
        shown = false
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
