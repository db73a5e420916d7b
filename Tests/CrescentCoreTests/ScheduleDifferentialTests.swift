import Foundation
import Testing
@testable import CrescentCore

/// Compares `Schedule.next` with a table of expected occurrences that
/// `scripts/gen-cron-table.py` generated once with the reference library cronsim.
@Suite("Schedule: differential against cronsim")
struct ScheduleDifferentialTests {
    struct Table: Decodable {
        let reference: String
        let rows: [Row]
    }

    struct Row: Decodable {
        let expr: String
        let tz: String
        let from: Int64
        let next: [Int64]
        let spec_differs: String?
    }

    static func loadTable() throws -> Table {
        let url = try #require(Bundle.module.url(forResource: "cron-table", withExtension: "json", subdirectory: "Fixtures"))
        return try JSONDecoder().decode(Table.self, from: Data(contentsOf: url))
    }

    @Test func agreesWithTheReferenceTable() throws {
        let table = try Self.loadTable()
        var compared = 0, agreed = 0, annotated = 0
        var disagreements: [String] = []
        for row in table.rows {
            if row.spec_differs != nil { annotated += 1; continue }
            let zone = try #require(TimeZone(identifier: row.tz), "zone \(row.tz)")
            let schedule = try Schedule.parse(row.expr)
            let got = schedule.occurrences(after: Date(timeIntervalSince1970: Double(row.from)), count: row.next.count, in: zone)
                .map { Int64($0.timeIntervalSince1970) }
            compared += 1
            if got == row.next {
                agreed += 1
            } else {
                disagreements.append("\(row.expr) [\(row.tz)] from \(row.from): expected \(row.next), got \(got)")
            }
        }
        print("cron differential: \(agreed)/\(compared) agree with \(table.reference) (\(annotated) rows annotated as differing from SPEC, skipped)")
        for line in disagreements.prefix(20) { print("  disagrees: \(line)") }
        #expect(compared >= 300)
        #expect(agreed == compared, "\(compared - agreed) rows disagree")
    }
}
