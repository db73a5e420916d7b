import CrescentCore
import CrescentLua
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Watches the tasks directory and hands each changed snapshot to `onChange`.
///
/// Linux inotify on every folder under the tasks dir (folders created later included); any
/// event starts a ~100 ms debounce, then the whole folder is read again and compared with the
/// last snapshot, so editors' save patterns (write in place, write-temp-then-rename, delete,
/// move) all end in one reload of what is really on disk. Without inotify it polls every second.
public final class Watcher: @unchecked Sendable {
    let tasksDir: URL
    let displayRoot: URL
    let logger: Logger
    let debounce: Double
    let onChange: @Sendable (TaskSnapshot) -> Void

    private var last: TaskSnapshot
    private var fd: Int32 = -1
    private var watched: [Int32: String] = [:]
    private let lock = NSLock()
    /// One scan at a time: the watcher thread's and a SIGHUP's.
    private let scanLock = NSLock()
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    public init(tasksDir: URL, displayRoot: URL, initial: TaskSnapshot, debounce: Double = 0.1, logger: Logger,
                onChange: @escaping @Sendable (TaskSnapshot) -> Void) {
        self.tasksDir = tasksDir
        self.displayRoot = displayRoot
        self.last = initial
        self.debounce = debounce
        self.logger = logger
        self.onChange = onChange
    }

    public func start() {
        #if canImport(Glibc)
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        #endif
        if fd < 0 { logger.warning("inotify is unavailable; polling the tasks directory every second") }
        else { addWatches() }
        let t = Thread { [self] in
            fd >= 0 ? inotifyLoop() : pollLoop()
            done.signal()
        }
        t.name = "crescent-watcher"
        t.start()
    }

    public func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        done.wait()
        if fd >= 0 { close(fd) }
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Watches the tasks dir and every folder below it (again after changes: new folders).
    private func addWatches() {
        #if canImport(Glibc)
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB)
        var dirs = [tasksDir.path]
        var i = 0
        while i < dirs.count {
            let dir = dirs[i]
            i += 1
            let wd = inotify_add_watch(fd, dir, mask)
            if wd >= 0 { watched[wd] = dir }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasPrefix(".") {
                var isDir: ObjCBool = false
                let path = dir + "/" + name
                // Directory symlinks are not followed (as TaskSnapshot does): a link back into the tree would never end.
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue, !TaskSnapshot.isSymlink(path) {
                    dirs.append(path)
                }
            }
        }
        if watched.isEmpty {
            // The tasks dir may not exist yet: watch its parent so its creation is seen.
            let parent = tasksDir.deletingLastPathComponent().path
            let wd = inotify_add_watch(fd, parent, mask)
            if wd >= 0 { watched[wd] = parent }
        }
        #endif
    }

    /// Waits for events; returns true if any arrived within `timeout` seconds.
    private func waitForEvents(timeout: Double) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&pfd, 1, Int32(timeout * 1000))
        guard n > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var any = false
        while true {
            let r = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if r <= 0 { break }
            any = true
        }
        return any
    }

    private func inotifyLoop() {
        while !isStopping {
            guard waitForEvents(timeout: 0.25) else { continue }
            // Debounce: wait until the burst is over.
            while waitForEvents(timeout: debounce) {}
            addWatches()
            rescan()
        }
    }

    private func pollLoop() {
        while !isStopping {
            Thread.sleep(forTimeInterval: 1)
            rescan()
        }
    }

    private func rescan() {
        scanLock.lock()
        defer { scanLock.unlock() }
        var snapshot = TaskSnapshot.read(tasksDir: tasksDir, displayRoot: displayRoot, version: last.version + 1)
        guard snapshot.files != last.files || snapshot.modules != last.modules || snapshot.readErrors != last.readErrors else { return }
        snapshot.version = last.version + 1
        last = snapshot
        logger.info("tasks directory changed; reloading", metadata: ["version": .stringConvertible(snapshot.version)])
        onChange(snapshot)
    }

    /// Reads the whole tasks directory again and reloads it even when nothing changed on disk
    /// (SIGHUP: a missed inotify event, a file system without events, a changed `env`).
    public func reloadAll(reason: String) {
        scanLock.lock()
        defer { scanLock.unlock() }
        let snapshot = TaskSnapshot.read(tasksDir: tasksDir, displayRoot: displayRoot, version: last.version + 1)
        last = snapshot
        logger.info("\(reason): re-reading the tasks directory", metadata: [
            "version": .stringConvertible(snapshot.version), "dir": "\(tasksDir.path)",
        ])
        onChange(snapshot)
    }
}
