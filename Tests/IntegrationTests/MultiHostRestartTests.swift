import CrescentCore
import Foundation
import Testing

// The PostgreSQL server restarted under three hosts' load.
extension MultiHostTests {
    /// Three hosts drain 6,000 jobs; halfway the server stops (fast shutdown) until every host
    /// has logged the loss, then starts again. The hosts reconnect without a restart, every
    /// acknowledged job (inserted, or enqueued by `crescent enqueue` with exit 0, before and
    /// after) succeeds exactly once, and each host LISTENs again.
    @Test func databaseRestartUnderLoad() throws {
        try withHosts(config: { Self.config($0) }, localConfig: Self.cliConfig, tasks: { _ in Self.crashTasks }) { try restart($0) }
    }

    func restart(_ mh: MultiHost) throws {
        let total = 6_000
        for i in 0..<3 { try mh.start(i) }
        #expect(waitFor(timeout: 60, every: 0.2) { mh.int("SELECT count(*) FROM processes") == 3 }, "three runners registered")
        mh.insertJobs("work", total)
        var acknowledged = total
        let enqueue = { (i: Int) throws -> Bool in
            try mh.cli(["enqueue", "work", "--args", "{\"i\": \(i)}"], timeout: 30).code == 0
        }
        for i in 0..<10 where try enqueue(-i) { acknowledged += 1 }
        let succeeded = { mh.int("SELECT count(*) FROM jobs WHERE task = 'work' AND state = 'succeeded'") }
        #expect(waitFor(timeout: 120, every: 0.1) { succeeded() >= total / 2 }, "half drained")
        let logsBefore = mh.hosts.map { $0.runner?.log.count ?? 0 }

        let (down, downOut) = mh.server(up: false)
        let downAt = Date()
        #expect(down == 0, "server stop: \(downOut)")
        let refused = try mh.cli(["enqueue", "work", "--args", "{\"i\": -100}"], timeout: 30)
        #expect(refused.code != 0, "an enqueue with the server down is refused (not acknowledged)")
        // Down until every host has met the loss.
        let met = waitFor(timeout: 60, every: 0.2) {
            mh.hosts.enumerated().allSatisfy { i, h in PostgresConnectionLossTests.lossLogged(String((h.runner?.log ?? "").dropFirst(logsBefore[i]))) }
        }
        let (up, upOut) = mh.server(up: true)
        let upAt = Date()
        #expect(up == 0, "server start: \(upOut)")
        let downSeconds = upAt.timeIntervalSince(downAt)

        // Recovered: every host heart-beats again, and jobs finish again.
        let beating = waitFor(timeout: 90, every: 0.1) {
            mh.int("SELECT count(*) FROM processes WHERE heartbeat_at > \(upAt.timeIntervalSince1970)") == 3
        }
        let heartbeatsBack = Date().timeIntervalSince(upAt)
        let working = waitFor(timeout: 90, every: 0.1) {
            mh.int("SELECT count(*) FROM runs WHERE finished_at > \(upAt.timeIntervalSince1970)") > 0
        }
        let jobsBack = Date().timeIntervalSince(upAt)
        // LISTEN again: each host's wake-up connection (from its own address) listens on the schema's channel.
        let channel = "crescent_wake_\(mh.schema)"
        let listening = waitFor(timeout: 60, every: 0.2) {
            mh.int("""
                SELECT count(DISTINCT client_addr) FROM pg_stat_activity
                WHERE query = 'LISTEN "\(channel)"' AND client_addr << '10.231.0.0/16'::inet
                """) == 3
        }
        for i in 0..<10 where try opsEventually(30, { try enqueue(1000 + i) ? true : nil }) == true { acknowledged += 1 }
        let drained = waitFor(timeout: 300, every: 0.25) { succeeded() == acknowledged }
        let running = mh.hosts.allSatisfy { $0.runner?.process.isRunning == true }
        let stops = mh.stopRunners()
        let l = mh.ledger("work")
        print("""
            multi-host database restart: \(acknowledged) acknowledged jobs, 3 hosts, server down \(Self.seconds(downSeconds)) \
            (until every host logged the loss) with \(total / 2)+ jobs left; lost \(acknowledged - l.succeeded); duplicates \(l.doubleCommitted); \
            worker-lost runs \(l.workerLost); re-runs \(l.runs - l.jobs); time to recover after the server was up: heartbeats \
            \(Self.seconds(heartbeatsBack)), first finished job \(Self.seconds(jobsBack)); LISTEN again on every host \(listening)
            """)
        #expect(met, "every host logged the lost connection")
        #expect(beating && working, "the hosts reconnected")
        #expect(listening, "every host LISTENs again")
        #expect(running, "no host exited")
        #expect(drained && l.succeeded == acknowledged && l.jobs == acknowledged, "every acknowledged job succeeded")
        #expect(l.doubleCommitted == 0, "none committed twice")
        #expect(stops.allSatisfy { $0 == 0 }, "\(stops)")
    }
}
