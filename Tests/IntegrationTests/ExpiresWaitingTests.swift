import CrescentCore
import Foundation
import Testing

/// `expires` reaches a job waiting behind a full queue (issue 15, item 6), against the real binary.
@Suite(.serialized) struct ExpiresWaitingTests {
    @Test func aWaitingJobExpiresWhileTheQueueIsFull() throws {
        let project = try Project(config: """
            database = "jobs.db"
            [workers]
            threads = 1
            [[queues]]
            name = "default"
            concurrency = 1
            [log]
            level = "warn"
            """, tasks: [
                "slow.lua": "return { handler = function(job) sleep(\"6s\") end }\n",
                "late.lua": "return { expires = \"1s\", handler = function(job) return 1 end }\n",
            ])
        let runner = try OpsRunner(project)
        let slow = try project.opsEnqueue("slow")
        #expect(try project.opsWaitFor(slow, "running") != nil)
        let late = try project.opsEnqueue("late")
        let expired = try project.opsWaitFor(late, "expired", timeout: 5)
        #expect(expired?["error"] == .string("expired before it started"))
        #expect(try project.opsState(slow) == "running", "the queue was still full when the waiting job expired")
        runner.signal(SIGTERM)
        #expect(runner.waitForExit() == 0)
    }
}
