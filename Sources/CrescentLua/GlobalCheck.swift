import CrescentCore

/// `crescent check`'s look at globals: every global a task file or module reads or writes
/// must be one the sandbox provides, and a field read from one of its tables (`queue.push`)
/// must be one that table has. Each finding is `file:line: unknown global "qeue" (did you
/// mean "queue"?)`.
public enum GlobalCheck {
    public static func check(_ snapshot: TaskSnapshot, sandbox: SandboxGlobals) -> [TaskLoadError] {
        let files = snapshot.files + snapshot.modules.values.sorted { $0.displayPath < $1.displayPath }
        var out: [TaskLoadError] = []
        for file in files {
            // A file that does not compile is reported by the load already.
            guard let accesses = try? GlobalScanner.scan(source: file.source, displayPath: file.displayPath) else { continue }
            out += check(accesses, file: file.displayPath, sandbox: sandbox)
        }
        return out
    }

    static func check(_ accesses: [GlobalScanner.Access], file: String, sandbox: SandboxGlobals) -> [TaskLoadError] {
        var out: [TaskLoadError] = []
        for access in accesses {
            guard let entry = sandbox.globals[access.name] else {
                var message = "unknown global \"\(access.name)\""
                if access.write { message += " assigned (declare it local)" }
                if let near = suggestion(for: access.name, among: sandbox.names) { message += " (did you mean \"\(near)\"?)" }
                out.append(TaskLoadError(file: file, line: access.line, message: message))
                continue
            }
            if let field = access.field, let fields = entry, !fields.contains(field) {
                var message = "unknown field \"\(field)\" of \"\(access.name)\""
                if let near = suggestion(for: field, among: fields) { message += " (did you mean \"\(access.name).\(near)\"?)" }
                out.append(TaskLoadError(file: file, line: access.line, message: message))
            }
        }
        return out
    }

    /// The closest name within a small edit distance (a typo), or nil.
    public static func suggestion(for name: String, among candidates: [String]) -> String? {
        let limit = name.count >= 4 ? 2 : 1
        var best: (distance: Int, name: String)?
        for c in candidates.sorted() {
            let d = distance(name, c)
            if d <= limit, d < (best?.distance ?? Int.max) { best = (d, c) }
        }
        return best?.name
    }

    /// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        if abs(x.count - y.count) > 3 { return abs(x.count - y.count) }
        var d = Array(repeating: Array(repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[x.count][y.count]
    }
}
