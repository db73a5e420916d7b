import Foundation

extension HTTPServer {
    /// Where the dashboard's, `/metrics`' and `/api/stats`' store reads run: one at a time,
    /// on a queue of their own. Counting a large table takes a core while it lasts; eight
    /// dashboard requests at once took every thread of the shared pool, and `/healthz` and
    /// the API waited behind them (1.06 s at 1M jobs). Serialised, they leave the other
    /// threads (and the pipeline's core) free. The queue is the server's (`readQueue`).
    /// Runs a blocking dashboard or stats read on `readQueue`.
    func readIO<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, any Error>) in
            readQueue.async {
                cont.resume(with: Result { try body() })
            }
        }
    }
}
