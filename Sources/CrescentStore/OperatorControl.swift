import Foundation

/// What an operator can ask of one `run` process (`crescent quiet/stop --process ID`).
public enum ProcessRequest: String, Sendable, CaseIterable, Hashable {
    /// Claim nothing new; finish what runs (Sidekiq's TSTP).
    case quiet
    /// Stop gracefully, as on SIGTERM.
    case stop
}

/// Names of the `control` rows both stores keep operator requests in (name → epoch seconds):
/// `stop` (every process), `pause:QUEUE`, `quiet:PROCESS`, `stop:PROCESS`.
enum ControlName {
    static let pausePrefix = "pause:"
    static func pause(_ queue: String) -> String { pausePrefix + queue }
    static func queue(ofPause name: String) -> String { String(name.utf8.dropFirst(pausePrefix.utf8.count)) ?? name }
    static func process(_ id: String, _ request: ProcessRequest) -> String { "\(request.rawValue):\(id)" }
    static func processNames(_ id: String) -> [String] { ProcessRequest.allCases.map { process(id, $0) } }

    /// The process and request a control row names, if it names one.
    static func parseProcess(_ name: String) -> (String, ProcessRequest)? {
        for request in ProcessRequest.allCases {
            let prefix = request.rawValue + ":"
            if name.hasPrefix(prefix) { return (String(name.dropFirst(prefix.count)), request) }
        }
        return nil
    }
}
