import CrescentCore
import Foundation
import Testing
@testable import CrescentLua

/// The editor definitions (`crescent types`) describe exactly what the sandbox registers:
/// each test compares `HostAPICatalog` with a live sandboxed VM or the validators' own lists.
@Suite struct DefinitionsTests {
    @Test func everyGlobalOfTheSandboxIsDescribedAndNothingElse() throws {
        let sandbox = try SandboxGlobals.read()
        let live = Set(sandbox.names)
        let described = Set(HostAPICatalog.globalNames)
        #expect(live.subtracting(described).isEmpty, "in the sandbox, not in the definitions: \(live.subtracting(described).sorted())")
        #expect(described.subtracting(live).isEmpty, "in the definitions, not in the sandbox: \(described.subtracting(live).sorted())")
        #expect(HostAPICatalog.globalNames.count == described.count, "a global is described twice")
    }

    @Test func everyHostTableHasExactlyItsDescribedFields() throws {
        let sandbox = try SandboxGlobals.read()
        var tables = 0
        for case .table(let name, _, let functions, let fields) in HostAPICatalog.globals {
            tables += 1
            let live = sandbox.globals[name].flatMap { $0 }
            #expect(live != nil, "\(name) is not a table in the sandbox")
            let described = (functions.map(\.name) + fields.map(\.bareName)).sorted()
            #expect(live == described, "\(name): sandbox \(live ?? []) vs definitions \(described)")
        }
        #expect(tables >= 6)
        // Standard libraries are listed as they are (luacheck gets their fields from the sandbox).
        let string = sandbox.globals["string"].flatMap { $0 } ?? []
        let os = sandbox.globals["os"].flatMap { $0 } ?? []
        #expect(string.contains("format"))
        #expect(os == ["clock", "date", "time"])
    }

    @Test func jobMethodsMatch() throws {
        let sandbox = try SandboxGlobals.read()
        #expect(sandbox.jobMethods == HostAPICatalog.jobMethods.map(\.name).sorted())
    }

    @Test func jobFieldsMatchWhatAHandlerSees() throws {
        let fx = try Fixture(["t.lua": task("""
            local _ = job.args
            local keys = {}
            for k in pairs(job) do keys[#keys + 1] = k end
            table.sort(keys)
            local methods = {}
            for _, m in ipairs({ \(HostAPICatalog.jobMethods.map { "\"\($0.name)\"" }.joined(separator: ", ")) }) do
              methods[#methods + 1] = type(job[m])
            end
            return { keys = keys, methods = methods }
            """)])
        let (worker, _) = try fx.worker()
        defer { worker.shutdown() }
        let result = succeeded(run(worker, makeJob(7, task: "t", args: #"{"a":1}"#, scheduledFor: Date())))
        guard case .object(let o)? = result, case .array(let keys)? = o["keys"], case .array(let methods)? = o["methods"] else {
            Issue.record("unexpected result \(String(describing: result))")
            return
        }
        let seen = keys.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        #expect(seen == HostAPICatalog.jobFields.map(\.name).sorted())
        #expect(methods.allSatisfy { $0 == .string("function") } && methods.count == HostAPICatalog.jobMethods.count)
    }

    @Test func taskFieldsAndOptionTablesMatchTheValidators() {
        #expect(Set(HostAPICatalog.taskFields.map(\.bareName)) == Set(TaskValidation.fields))
        #expect(HostAPICatalog.taskFields.count == TaskValidation.fields.count)
        let http = HostAPICatalog.fieldNames(ofClass: "crescent.HTTPRequest") + HostAPICatalog.fieldNames(ofClass: "crescent.HTTPOptions")
        #expect(Set(http) == Set(HTTPAPI.optionKeys))
        #expect(Set(HostAPICatalog.fieldNames(ofClass: "crescent.PushOptions")) == Set(QueueAPI.optionKeys))
        #expect(Set(HostAPICatalog.fieldNames(ofClass: "crescent.Retry")) == Set(TaskValidation.retryKeys))
        #expect(Set(HostAPICatalog.fieldNames(ofClass: "crescent.Unique")) == Set(TaskValidation.uniqueKeys))
        #expect(Set(HostAPICatalog.fieldNames(ofClass: "crescent.ScheduleEntry")) == Set(TaskValidation.scheduleEntryKeys))
        #expect(Set(HostAPICatalog.fieldNames(ofClass: "crescent.Retention")) == Set(TaskRetention.states))
    }

    @Test func luaCATSNamesOnlyDeclaredClassesAndEveryHostFunction() throws {
        let text = LuaDefinitions.luaCATS()
        #expect(text.hasPrefix("---@meta"))
        let declared = Set(text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("---@class ") else { return nil }
            return line.dropFirst("---@class ".count).split(separator: " ").first.map(String.init)
        })
        let used = Set(text.matches(of: /crescent\.[A-Za-z]+(\.[A-Za-z]+)?/).map { String($0.output.0) })
        #expect(used.subtracting(declared).isEmpty, "types used but not declared: \(used.subtracting(declared).sorted())")
        for case .table(let name, _, let functions, _) in HostAPICatalog.globals {
            for f in functions { #expect(text.contains("function \(name).\(f.name)("), "\(name).\(f.name) missing") }
        }
        for m in HostAPICatalog.jobMethods { #expect(text.contains("function Job:\(m.name)(")) }
        #expect(text.contains("---@field null crescent.Null"))
        for f in HostAPICatalog.taskFields { #expect(text.contains("---@field \(f.name) ")) }
    }

    @Test func luacheckrcListsTheSandboxGlobals() throws {
        let sandbox = try SandboxGlobals.read()
        let rc = LuaDefinitions.luacheckrc(sandbox)
        #expect(rc.contains(#"queue = { fields = { "push" } },"#))
        #expect(rc.contains(#"json = { fields = { "decode", "encode", "null" } },"#))
        #expect(rc.contains(#""sleep","#))
        #expect(!rc.contains("\"io\"") && !rc.contains("io = {"))
    }
}
