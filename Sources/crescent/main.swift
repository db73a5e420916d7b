import ArgumentParser
import CrescentCore
import Foundation

// `-V` is `--version` (ArgumentParser knows only the long form).
if CommandLine.arguments.count == 2, CommandLine.arguments[1] == "-V" {
    print("crescent \(CrescentVersion.current)")
    exit(0)
}

// Exit codes per SPEC §5: usage errors are 2 (ArgumentParser's default would be 64).
do {
    var command = try Crescent.parseAsRoot()
    do {
        try command.run()
    } catch let exit as ExitCode {
        Foundation.exit(exit.rawValue)
    } catch {
        Crescent.exit(withError: error)
    }
} catch {
    let code = Crescent.exitCode(for: error)
    if code == .success {
        print(Crescent.fullMessage(for: error))
        exit(0)
    }
    FileHandle.standardError.write(Data(("crescent: " + Crescent.message(for: error) + "\n" + "Run 'crescent help' for usage.\n").utf8))
    exit(2)
}
