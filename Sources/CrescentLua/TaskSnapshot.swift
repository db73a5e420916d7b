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
    /// Directory symlinks (and folders seen twice) that were not followed, as display paths.
    public var skippedLinks: [String] = []

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
        var visited = Set<FolderID>()
        var skipped: [String] = []
        collect(dir: root, rel: "", into: &relPaths, visited: &visited, skipped: &skipped)
        snapshot.skippedLinks = skipped.sorted().map { displayPrefix + $0 }
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

    /// A folder's device and inode: the walk enters each folder once.
    struct FolderID: Hashable { var device: UInt64; var inode: UInt64 }

    static func folderID(_ path: String) -> FolderID? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FolderID(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }

    /// Whether `path` itself is a symbolic link.
    public static func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK
    }

    /// Collects `*.lua` paths. Symlinks to directories are not followed (they could lead out
    /// of the tree or back into it, loading files twice or looping forever), and a folder
    /// reached twice (by device and inode, e.g. through a bind mount) is entered once; both
    /// are reported in `skipped`. Symlinks to files are read.
    static func collect(dir: URL, rel: String, into out: inout [String], visited: inout Set<FolderID>, skipped: inout [String]) {
        if let id = folderID(dir.path) {
            guard visited.insert(id).inserted else { skipped.append(String(rel.dropLast())); return }
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { return }
        for name in names where !name.hasPrefix(".") {
            let url = dir.appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                if isSymlink(url.path) { skipped.append(rel + name); continue }
                collect(dir: url, rel: rel + name + "/", into: &out, visited: &visited, skipped: &skipped)
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

extension TaskSnapshot {
    /// The tasks version: 12 hex digits of a 64-bit FNV-1a digest over every task file's and
    /// library module's path and source, in path order. Equal task directories give equal
    /// versions on every host; a changed, added or removed file changes it.
    public var contentDigest: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0xff  // a separator no UTF-8 text holds
            hash = hash &* 0x0000_0100_0000_01b3
        }
        for file in files { mix(file.relativePath); mix(file.source) }
        for name in modules.keys.sorted() {
            guard let module = modules[name] else { continue }
            mix("module:" + module.relativePath); mix(module.source)
        }
        let hex = String(hash, radix: 16)
        return String((String(repeating: "0", count: max(0, 16 - hex.count)) + hex).prefix(12))
    }
}
