import CrescentCore
import CrescentRuntime
import Foundation

/// `crescent check`'s warnings about durations written as bare numbers that look like
/// milliseconds: `ttl = 60000` is 60000 seconds (16h40m), not a minute.
enum CheckWarnings {
    /// Keys whose value is a duration, in task files and in the config.
    static let durationKeys: Set<String> = ["ttl", "expires", "delay", "max_delay", "timeout", "period", "lease",
                                            "shutdown_timeout", "succeeded", "dead"]

    /// `file:line: key = N is N seconds (…); …` for every bare whole number of at least 1000
    /// that is a multiple of 1000 given to a duration key.
    static func millisecondLike(in text: String, file: String) -> [String] {
        var out: [String] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = Substring(line)
            if let comment = rest.range(of: "--") ?? rest.range(of: "#") { rest = rest[..<comment.lowerBound] }
            for piece in rest.split(whereSeparator: { $0 == "," || $0 == "{" || $0 == "}" || $0 == ";" }) {
                let parts = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, durationKeys.contains(parts[0]), let n = Int(parts[1]), n >= 1000, n % 1000 == 0 else { continue }
                out.append("\(file):\(index + 1): \(parts[0]) = \(n) is \(n) seconds (\(DurationText.format(Double(n)))); "
                           + "write \"\(n / 1000)s\" if you meant milliseconds, or \"\(DurationText.format(Double(n)))\" to keep it")
            }
        }
        return out
    }

    /// The warnings for the config file and every `.lua` file under the tasks folder.
    static func all(config: Config, configPath: String?) -> [String] {
        var out: [String] = []
        if let configPath, let text = try? String(contentsOfFile: configPath, encoding: .utf8) {
            out += millisecondLike(in: text, file: configPath)
        }
        let root = config.tasksDir
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return out }
        var files: [URL] = []
        for case let url as URL in walker where url.pathExtension == "lua" { files.append(url) }
        for url in files.sorted(by: { $0.path < $1.path }) {
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            let shown = url.path.hasPrefix(config.baseDir.path + "/") ? String(url.path.dropFirst(config.baseDir.path.count + 1)) : url.path
            out += millisecondLike(in: text, file: shown)
        }
        return out
    }
}
