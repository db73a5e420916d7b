import Foundation

/// Python test tools from PyPI (psycopg, …), installed into one virtual environment under
/// the temporary folder the first time a test needs them.
enum PythonTools {
    static let venv = FileManager.default.temporaryDirectory.appendingPathComponent("crescent-python-tools").path
    private static let lock = NSLock()

    /// The venv's python once `module` imports, installing `package` with pip when needed;
    /// nil, with the reason printed, when that cannot be done (no python3, no network to PyPI).
    static func python(with package: String, module: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        let python = venv + "/bin/python"
        if !FileManager.default.isExecutableFile(atPath: python),
           shell("python3 -m venv '\(venv)' >/tmp/crescent-python-tools.log 2>&1") != 0 {
            print("SKIPPED: cannot create a Python venv at \(venv) (see /tmp/crescent-python-tools.log)")
            return nil
        }
        if shell("'\(python)' -c 'import \(module)' >/dev/null 2>&1") == 0 { return python }
        if shell("'\(python)' -m pip install -q '\(package)' >>/tmp/crescent-python-tools.log 2>&1") != 0
            || shell("'\(python)' -c 'import \(module)' >/dev/null 2>&1") != 0 {
            print("SKIPPED: pip could not install \(package) (see /tmp/crescent-python-tools.log)")
            return nil
        }
        return python
    }

    /// Runs a command line through /bin/sh (system(): a Process can miss the exit of a
    /// command that leaves a daemon behind).
    static func shell(_ command: String) -> Int32 {
        let status = system(command)
        return status == -1 ? -1 : (status >> 8) & 0xff
    }

    /// Runs `executable ARGS`, capturing its output; killed after `timeout` seconds.
    static func run(_ executable: String, _ arguments: [String], timeout: Double = 60) throws -> Project.Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let outData = ReadAll(out), errData = ReadAll(err)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return Project.Result(code: p.terminationStatus, stdout: outData.text(), stderr: errData.text())
    }

    /// The repository's folder.
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
