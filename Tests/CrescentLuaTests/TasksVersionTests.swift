import Foundation
import Testing
@testable import CrescentLua

/// The tasks version (`TaskSnapshot.contentDigest`) a runner registers with its process row:
/// equal task directories agree wherever they are, any change of a file changes it.
@Suite struct TasksVersionTests {
    static let files = [
        "a.lua": "return { handler = function(job) return 1 end }",
        "sub/b.lua": "return { handler = function(job) return 2 end }",
        "lib/util.lua": "return { x = 1 }",
    ]

    @Test func equalDirectoriesGiveEqualVersions() throws {
        let one = try Fixture(Self.files).snapshot().contentDigest
        let two = try Fixture(Self.files).snapshot(version: 7).contentDigest
        #expect(one == two, "the version depends on the files only, not on the folder or the load count")
        #expect(one.count == 12 && one.allSatisfy(\.isHexDigit))
    }

    @Test func anyChangeGivesAnotherVersion() throws {
        let base = try Fixture(Self.files).snapshot().contentDigest
        var changed = Self.files
        changed["a.lua"] = "return { handler = function(job) return 3 end }"
        var module = Self.files
        module["lib/util.lua"] = "return { x = 2 }"
        var added = Self.files
        added["c.lua"] = "return { handler = function(job) end }"
        var renamed = Self.files
        renamed["d.lua"] = renamed.removeValue(forKey: "a.lua")
        let others = try [changed, module, added, renamed].map { try Fixture($0).snapshot().contentDigest }
        #expect(Set(others + [base]).count == 5, "\(others) vs \(base)")
    }
}
