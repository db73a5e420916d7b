import CrescentCore
import Foundation

/// Every `*.lua` file under the tasks directory, read into memory at one moment.
///
/// Files under `tasks/lib/` are modules for `require` (`tasks/lib/sub/y.lua` is
/// `require("sub.y")`); every other file defines one task.
public struct TaskSnapshot: Sendable {
    public struct File: Sendable, Hashable {
        /// Path relative to the tasks dir, e.g. `mail/digest.lua`.
        public var relativePath: String
        /// Path shown in errors and chunk names, e.g. `tasks/mail/digest.lua`.
        public var displayPath: String
        public var source: String
        public init(relativePath: String, displayPath: String, source: String) {
            self.relativePath = relativePath; self.displayPath = displayPath; self.source = source
        }
        /// `mail/digest` for `mail/digest.lua`.
        public var defaultTaskName: String { String(relativePath.dropLast(4)) }
    }

    public var version: Int
    /// Task files, sorted by path.
    public var files: [File]
    /// Library modules by module name (`sub.y`).
    public var modules: [String: File]
    /// Files that could not be read.
    public var readErrors: [TaskLoadError]
    /// Task files (display paths) whose load did not finish within the time limit: a VM
    /// installing this snapshot reports them as broken without running them again.
    public var stalled: Set<String> = []

    public init(version: Int, files: [File] = [], modules: [String: File] = [:], readErrors: [TaskLoadError] = []) {
        self.version = version; self.files = files; self.modules = modules; self.readErrors = readErrors
    }

    /// Reads the tasks directory. A missing directory gives an empty snapshot with an error.
    public static func read(tasksDir: URL, displayRoot: URL, version: Int) -> TaskSnapshot {
        var snapshot = TaskSnapshot(version: version)
        let root = tasksDir.standardizedFileURL
        let displayPrefix = Self.displayPrefix(tasksDir: root, displayRoot: displayRoot.standardizedFileURL)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDir), isDir.boolValue else {
            snapshot.readErrors.append(TaskLoadError(file: displayPrefix.isEmpty ? root.path : String(displayPrefix.dropLast()),
                                                     line: nil, message: "tasks directory not found"))
            return snapshot
        }
        var relPaths: [String] = []
        collect(dir: root, rel: "", into: &relPaths)
        for rel in relPaths.sorted() {
            let display = displayPrefix + rel
            let url = root.appendingPathComponent(rel)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                snapshot.readErrors.append(TaskLoadError(file: display, line: nil, message: "cannot read the file"))
                continue
            }
            // Editors on some systems save a UTF-8 byte order mark; Lua would choke on it.
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            let body = data.starts(with: bom) ? data.dropFirst(3) : data[...]
            let file = File(relativePath: rel, displayPath: display, source: String(decoding: body, as: UTF8.self))
            if rel.hasPrefix("lib/") {
                let moduleName = rel.dropFirst(4).dropLast(4).replacingOccurrences(of: "/", with: ".")
                snapshot.modules[moduleName] = file
            } else {
                snapshot.files.append(file)
            }
        }
        return snapshot
    }

    static func collect(dir: URL, rel: String, into out: inout [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        for name in names where !name.hasPrefix(".") {
            let url = dir.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                collect(dir: url, rel: rel + name + "/", into: &out)
            } else if name.hasSuffix(".lua") {
                out.append(rel + name)
            }
        }
    }

    /// `tasks/` when the tasks dir is `<displayRoot>/tasks`; the absolute path otherwise.
    static func displayPrefix(tasksDir: URL, displayRoot: URL) -> String {
        let t = tasksDir.resolvingSymlinksInPath().pathComponents
        let r = displayRoot.resolvingSymlinksInPath().pathComponents
        if t.count > r.count, Array(t.prefix(r.count)) == r {
            return t.dropFirst(r.count).joined(separator: "/") + "/"
        }
        if t == r { return "" }
        return tasksDir.path.hasSuffix("/") ? tasksDir.path : tasksDir.path + "/"
    }
}
