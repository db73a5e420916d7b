import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// This process's resident memory (RSS), for its row on the processes page.
public enum ProcessMemory {
    /// Resident bytes now, from `/proc/self/statm` (its second field, in pages); nil where
    /// there is no such file (not Linux) or it cannot be read.
    public static func residentBytes() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int64(fields[1]) else { return nil }
        let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        guard pageSize > 0 else { return nil }
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: pageSize)
        return overflow ? nil : bytes
    }
}
