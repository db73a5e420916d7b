import ArgumentParser
import CrescentCore
import Foundation

struct NextCommand: CrescentCommand {
    static let configuration = CommandConfiguration(commandName: "next", abstract: "Print the next occurrences of a schedule, in UTC.")

    @OptionGroup var options: ConfigOption
    @Argument(help: "A schedule: cron, @macro, \"every 5 minutes\" or \"at TIME\".") var schedule: String
    @Option(help: "How many occurrences.") var count: Int = 5
    @Option(help: "Start after this time (default now).") var from: String?
    @Option(help: "Evaluate in this IANA time zone.") var tz: String = "UTC"

    func execute() throws {
        guard count > 0 else { throw CrescentError.usage("--count must be at least 1") }
        guard let zone = TimeZone(identifier: tz) else { throw CrescentError.usage("unknown time zone \"\(tz)\" (use an IANA name like Europe/Berlin)") }
        let parsed = try Schedule.parse(schedule)
        var at = try from.map(TimeText.parse) ?? Date()
        for _ in 0..<count {
            // Times past year 9999 cannot be written in ISO 8601's four-digit years.
            guard let next = parsed.next(after: at, in: zone), next.timeIntervalSince1970 <= TimeText.maxEpoch else { break }
            Output.line(TimeText.format(next).replacingOccurrences(of: ".000Z", with: "Z"))
            at = next
        }
    }
}
