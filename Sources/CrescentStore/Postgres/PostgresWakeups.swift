import CrescentCore
import Foundation
import Glibc

/// Wake-ups across hosts: one dedicated connection per process LISTENs on the schema's
/// channel; every transaction that makes work due elsewhere (inserts, retries, pushes)
/// sends a NOTIFY with its commit. Each notification bumps `token` and calls the
/// registered handlers at once. A lost connection is made again with a growing pause and
/// LISTENs again; the token moves then too, since notifications may have been missed
/// meanwhile (pipelines also poll, so nothing waits for ever on a lost wake-up).
final class PostgresWakeups: @unchecked Sendable {
    private let conninfo: String
    private let channel: String
    private let lock = NSLock()
    private var count: Int64 = 0
    private var handlers: [@Sendable () -> Void] = []
    private var stopped = false
    /// Whether the listening connection is up (for `status`).
    private(set) var connected = false

    init(conninfo: String, channel: String) {
        self.conninfo = conninfo
        self.channel = channel
        // The thread holds this object until `stop` ends its loop (within a second).
        let thread = Thread { self.loop() }
        thread.name = "crescent.pg-listen"
        thread.start()
    }

    var token: Int64 {
        lock.lock(); defer { lock.unlock() }
        return count
    }

    func onWakeup(_ handler: @escaping @Sendable () -> Void) {
        lock.lock(); handlers.append(handler); lock.unlock()
    }

    func stop() {
        lock.lock(); stopped = true; lock.unlock()
    }

    private var isStopped: Bool {
        lock.lock(); defer { lock.unlock() }
        return stopped
    }

    private func fire() {
        lock.lock()
        count &+= 1
        let hs = handlers
        lock.unlock()
        for h in hs { h() }
    }

    private func loop() {
        var pause = 0.1
        var everConnected = false
        while !isStopped {
            let conn: PGConnection
            do {
                conn = try PGConnection(conninfo: conninfo)
                try conn.execute("LISTEN \"\(channel)\"")
            } catch {
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 5)
                continue
            }
            pause = 0.1
            lock.lock(); connected = true; lock.unlock()
            if everConnected { fire() }  // notifications may have been missed while away
            everConnected = true
            listen(on: conn)
            lock.lock(); connected = false; lock.unlock()
        }
    }

    /// Waits on the socket (a second at most, to notice `stop`) until the connection fails.
    private func listen(on conn: PGConnection) {
        var fds = pollfd(fd: conn.socket, events: Int16(POLLIN), revents: 0)
        while !isStopped {
            let ready = poll(&fds, 1, 1000)
            if ready < 0 && errno != EINTR { return }
            if ready > 0 {
                guard conn.consumeInput() else { return }
                if !conn.notifications().isEmpty { fire() }
            }
            if conn.isBroken { return }
        }
    }
}
