import CrescentCore
import CrescentStore
import Foundation

/// The human table of `crescent jobs`: what a person scanning it needs, in words.
enum JobsListing {
    static func print(_ jobs: [Job], runs: (Int64) -> [JobRun], now: Date = Date()) {
        Output.table(["ID", "TASK", "QUEUE", "STATE", "ATTEMPT", "AGE", "DURATION", "PROGRESS", "ERROR"], jobs.map { job in
            let last = runs(job.id).last
            let duration = last.map { ($0.finishedAt ?? now).timeIntervalSince($0.startedAt) }
            return [String(job.id), job.task, job.queue, job.state.rawValue, "\(job.attempt)/\(job.maxAttempts)",
                    ago(job.createdAt, now: now), duration.map(short) ?? "-",
                    job.progress.map(JobsCommand.shortProgress) ?? "-", readable(job.error ?? "", max: 60)]
        })
    }

    /// "12s ago", "2m ago", "3h ago", "4d ago" (the largest unit only).
    static func ago(_ date: Date, now: Date) -> String {
        let s = now.timeIntervalSince(date)
        guard s.isFinite else { return "-" }
        if s < 0 { return "in " + largest(-s) }
        return largest(s) + " ago"
    }

    static func largest(_ s: Double) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3600), ("m", 60)] where s >= size { return "\(Int(min(s / size, 1e15)))\(unit)" }
        return "\(Int(min(s, 1e15)))s"
    }

    /// Durations to a tenth of a second below a minute ("0.3s", "12.5s"), else "2m5s".
    static func short(_ s: Double) -> String {
        guard s.isFinite else { return "-" }
        if s < 60 { return String(format: "%.1fs", max(0, s)) }
        return DurationText.format(s.rounded())
    }

    /// The first line of an error with runs of white space folded, cut at a word boundary
    /// to at most `max` characters, with "…" when cut.
    static func readable(_ error: String, max: Int) -> String {
        let first = error.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let words = first.split(whereSeparator: \.isWhitespace)
        var out = ""
        for word in words {
            let next = out.isEmpty ? String(word) : out + " " + word
            if next.count > max {
                if out.isEmpty { out = String(word.prefix(max - 1)) }
                return out + "…"
            }
            out = next
        }
        return out
    }
}
