import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// `GlobalScanner` reads globals from Lua 5.4 bytecode; `GlobalCheck` turns unknown ones into
/// `file:line: unknown global …` findings.
@Suite struct GlobalScannerTests {
    func scan(_ source: String) throws -> [GlobalScanner.Access] {
        try GlobalScanner.scan(source: source, displayPath: "tasks/t.lua")
    }

    @Test func readsAndWritesWithLinesInNestedFunctions() throws {
        let accesses = try scan("""
            local x = 1
            counter = 0
            return {
              handler = function(job)
                local function inner()
                  return function() return qeue.push("a") end
                end
                log.info(tostring(x))
                return inner
              end,
            }
            """)
        #expect(accesses.contains(GlobalScanner.Access(name: "counter", line: 2, write: true)))
        #expect(accesses.contains(GlobalScanner.Access(name: "qeue", line: 6, write: false, field: "push")))
        #expect(accesses.contains(GlobalScanner.Access(name: "log", line: 8, write: false, field: "info")))
        #expect(accesses.contains(GlobalScanner.Access(name: "tostring", line: 8, write: false)))
        #expect(!accesses.contains { $0.name == "x" || $0.name == "inner" || $0.name == "job" })
    }

    @Test func aLocalEnvIsNotTheGlobalEnvironment() throws {
        let accesses = try scan("""
            local _ENV = { print = print }
            local function f() return missing_in_local_env end
            print(f())
            """)
        // `print` on line 1 is a real global read; the others index the local _ENV table.
        #expect(accesses == [GlobalScanner.Access(name: "print", line: 1, write: false)])
    }

    @Test func longNamesAndManyConstantsAreStillFound() throws {
        let long = String(repeating: "g", count: 60)
        var source = "local t = {" + (0..<300).map { "\"k\($0)\"" }.joined(separator: ", ") + "}\n"
        source += "\(long) = 1\n\(long) = tostring(t[1] .. \"x\")\nreturn \(long), qeue, ...\n"
        let accesses = try scan(source)
        #expect(accesses.contains(GlobalScanner.Access(name: long, line: 2, write: true)))
        #expect(accesses.contains(GlobalScanner.Access(name: long, line: 3, write: true)))
        #expect(accesses.contains(GlobalScanner.Access(name: long, line: 4, write: false)))
        #expect(accesses.contains { $0.name == "tostring" && $0.line == 3 && !$0.write })
        #expect(accesses.contains { $0.name == "qeue" && $0.line == 4 && !$0.write })
    }

    @Test func aSyntaxErrorIsReportedNotScanned() {
        #expect(throws: GlobalScanner.ScanError.self) { try scan("return {") }
    }

    @Test func unknownGlobalsAndFieldsWithSuggestions() throws {
        let sandbox = try SandboxGlobals.read()
        let source = """
            return {
              handler = function(job)
                qeue.push("x", {})
                queue.psuh("y")
                local n = tonumber(job.args.n) + zzzzzz
                helper = 1
                return string.format("%d", n)
              end,
            }
            """
        let findings = GlobalCheck.check(try scan(source), file: "tasks/t.lua", sandbox: sandbox).map(\.description)
        #expect(findings == [
            #"tasks/t.lua:3: unknown global "qeue" (did you mean "queue"?)"#,
            #"tasks/t.lua:4: unknown field "psuh" of "queue" (did you mean "queue.push"?)"#,
            #"tasks/t.lua:5: unknown global "zzzzzz""#,
            #"tasks/t.lua:6: unknown global "helper" assigned (declare it local)"#,
        ])
    }

    @Test func suggestionsStayClose() {
        #expect(GlobalCheck.suggestion(for: "qeue", among: ["queue", "store"]) == "queue")
        #expect(GlobalCheck.suggestion(for: "jsno", among: ["json", "log"]) == "json")
        #expect(GlobalCheck.suggestion(for: "database", among: ["queue", "store"]) == nil)
        #expect(GlobalCheck.distance("psuh", "push") == 1)
    }
}
