import CrescentCore
import CrescentStore
import Foundation
import Mustache

/// Rendering for the dashboard: the template library, the page layout, time and size
/// formatting, and the inline SVG chart.
enum Dashboard {
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in DashboardTemplates.all {
            do {
                try library.register(text, named: name)
            } catch {
                preconditionFailure("dashboard template \(name) does not parse: \(error)")
            }
        }
        return library
    }()

    struct NavItem {
        var path: String
        var label: String
    }

    static let nav: [NavItem] = [
        .init(path: "/", label: "Overview"), .init(path: "/queues", label: "Queues"),
        .init(path: "/tasks", label: "Tasks"), .init(path: "/jobs", label: "Jobs"),
        .init(path: "/dead", label: "Dead"), .init(path: "/processes", label: "Processes"),
    ]

    /// A full page: `template` rendered with `context`, inside the layout.
    static func page(_ template: String, title: String, active: String, context: [String: Any],
                     notice: String? = nil, deadCount: Int? = nil, now: Date = Date()) -> String {
        let content = library.render(context, withTemplate: template) ?? ""
        var layout: [String: Any] = [
            "title": title,
            "css": DashboardTemplates.css + DashboardTemplates.themes,
            "refresh": DashboardScript.interval,
            "content": content,
            "now": clock(now),
            "host": ProcessInfo.processInfo.hostName,
            "nav": nav.map { item -> [String: Any] in
                var entry: [String: Any] = ["href": item.path, "label": item.label, "on": item.path == active]
                if item.path == "/dead", let deadCount, deadCount > 0 { entry["badge"] = deadCount }
                return entry
            },
        ]
        if let notice, !notice.isEmpty { layout["notice"] = notice }
        return library.render(layout, withTemplate: "layout") ?? ""
    }

    static func errorPage(status: Int, reason: String, message: String) -> String {
        page("error", title: "\(status) \(reason)", active: "",
             context: ["status": status, "reason": reason, "message": message])
    }

    // MARK: formatting

    /// `2026-11-23 08:00:00 UTC`
    static func clock(_ date: Date) -> String {
        let iso = TimeText.format(date)
        return iso.prefix(10) + " " + iso.dropFirst(11).prefix(8) + " UTC"
    }

    /// `3m ago`, `in 2h`, `just now`.
    static func relative(_ date: Date, now: Date = Date()) -> String {
        let delta = date.timeIntervalSince(now)
        let magnitude = abs(delta)
        if magnitude < 1 { return "just now" }
        let text = span(magnitude)
        return delta < 0 ? "\(text) ago" : "in \(text)"
    }

    /// A rough duration: `45s`, `12m`, `3h 5m`, `2d 4h`.
    static func span(_ seconds: Double) -> String {
        // Rows written before times were range-checked may hold any Double: never trap on them.
        guard seconds.isFinite, abs(seconds) < 1e15 else { return seconds.isNaN ? "?" : "ages" }
        let s = Int(seconds.rounded(.down))
        switch s {
        case ..<60: return "\(s)s"
        case ..<3600: return "\(s / 60)m" + (s < 600 && s % 60 != 0 ? " \(s % 60)s" : "")
        case ..<86400: return "\(s / 3600)h" + (s % 3600 / 60 != 0 ? " \(s % 3600 / 60)m" : "")
        default: return "\(s / 86400)d" + (s % 86400 / 3600 != 0 ? " \(s % 86400 / 3600)h" : "")
        }
    }

    /// How long a run took: `120ms`, `4.2s`, `3m 10s`.
    static func took(_ seconds: Double) -> String {
        if seconds.isNaN || seconds <= -1e12 { return "?" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        return span(seconds)
    }

    /// JSON text pretty-printed for reading: two-space indent, object keys sorted. Text
    /// that is not JSON comes back as it is.
    static func pretty(_ text: String) -> String {
        guard let value = try? JSONValue.decode(text) else { return text }
        var out = ""
        pretty(value, indent: "", into: &out)
        return out
    }

    static func pretty(_ value: JSONValue, indent: String, into out: inout String) {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += inner
                pretty(item, indent: inner, into: &out)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += indent + "]"
        case .object(let fields) where !fields.isEmpty:
            out += "{\n"
            let keys = fields.keys.sorted()
            for (i, key) in keys.enumerated() {
                out += inner + JSONValue.string(key).encoded() + ": "
                pretty(fields[key]!, indent: inner, into: &out)
                out += i == keys.count - 1 ? "\n" : ",\n"
            }
            out += indent + "}"
        default:
            out += value.encoded()
        }
    }

    /// The first line of an error, cut to `limit` characters.
    static func short(_ text: String, limit: Int = 90) -> String {
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? text
        return line.count > limit ? String(line.prefix(limit - 1)) + "…" : line
    }

    // MARK: chart

    /// Stacked bars per minute (succeeded below, failed on top), with a light grid, axis
    /// labels and a tooltip per bar. Plain SVG: no script needed.
    static func chart(_ minutes: [RunMinute], now: Date = Date()) -> String {
        let width = 1100.0, height = 220.0
        let left = 44.0, right = 12.0, top = 30.0, bottom = 28.0
        let plotW = width - left - right, plotH = height - top - bottom
        let peak = minutes.map { $0.succeeded + $0.failed }.max() ?? 0
        let scaleMax = niceCeiling(max(peak, 4))
        let slot = plotW / Double(max(minutes.count, 1))
        let barW = max(1, slot * 0.72)
        func y(_ v: Double) -> Double { top + plotH - plotH * v / Double(scaleMax) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var svg = "<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"Runs finished per minute over the last hour\" font-family=\"-apple-system,Segoe UI,Roboto,Arial,sans-serif\" font-size=\"11\">"
        for i in 0...4 {
            let v = Double(scaleMax) * Double(i) / 4
            let yy = y(v)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(yy))\" x2=\"\(f(width - right))\" y2=\"\(f(yy))\" stroke=\"\(i == 0 ? "#c9ced8" : "#eceef2")\" stroke-width=\"1\"/>"
            svg += "<text x=\"\(f(left - 8))\" y=\"\(f(yy + 4))\" text-anchor=\"end\" fill=\"#6b7385\">\(Int(v))</text>"
        }
        for (i, m) in minutes.enumerated() {
            let x = left + Double(i) * slot + (slot - barW) / 2
            let ok = Double(m.succeeded), bad = Double(m.failed)
            let label = "\(clock(m.start).dropFirst(11).prefix(5)) UTC: \(m.succeeded) succeeded, \(m.failed) failed"
            svg += "<g><title>\(label)</title>"
            svg += "<rect x=\"\(f(x))\" y=\"\(f(top))\" width=\"\(f(barW))\" height=\"\(f(plotH))\" fill=\"transparent\"/>"
            if ok > 0 {
                svg += "<rect x=\"\(f(x))\" y=\"\(f(y(ok)))\" width=\"\(f(barW))\" height=\"\(f(y(0) - y(ok)))\" rx=\"1.5\" fill=\"#3fa55b\"/>"
            }
            if bad > 0 {
                svg += "<rect x=\"\(f(x))\" y=\"\(f(y(ok + bad)))\" width=\"\(f(barW))\" height=\"\(f(y(ok) - y(ok + bad)))\" rx=\"1.5\" fill=\"#d94848\"/>"
            }
            svg += "</g>"
        }
        let count = minutes.count
        for back in stride(from: count, through: 0, by: -15) {
            let i = count - back
            let x = left + Double(i) * slot
            let text = back == 0 ? "now" : "−\(back)m"
            let anchor = i == 0 ? "start" : (back == 0 ? "end" : "middle")
            svg += "<text x=\"\(f(x))\" y=\"\(f(height - 10))\" text-anchor=\"\(anchor)\" fill=\"#6b7385\">\(text)</text>"
        }
        let legendX = width - right - 160
        svg += "<rect x=\"\(f(legendX))\" y=\"4\" width=\"10\" height=\"10\" rx=\"2\" fill=\"#3fa55b\"/><text x=\"\(f(legendX + 15))\" y=\"13\" fill=\"#3a4255\">succeeded</text>"
        svg += "<rect x=\"\(f(legendX + 95))\" y=\"4\" width=\"10\" height=\"10\" rx=\"2\" fill=\"#d94848\"/><text x=\"\(f(legendX + 110))\" y=\"13\" fill=\"#3a4255\">failed</text>"
        svg += "</svg>"
        return svg
    }

    /// A round top for the y axis with four grid steps of 1, 2 or 5 × 10ⁿ each.
    static func niceCeiling(_ n: Int) -> Int {
        let needed = max(1, (n + 3) / 4)
        var base = 1
        while true {
            for step in [10, 15, 20, 25, 30, 40, 50, 60, 80] where (step * base) % 10 == 0 && step * base / 10 >= needed {
                return step * base / 10 * 4
            }
            base *= 10
        }
    }
}
