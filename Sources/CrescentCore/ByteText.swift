import Foundation

/// Byte counts as people read them: `"812 B"`, `"42.1 MB"`, `"1.3 GB"` (powers of 1000, one
/// decimal from kB on). Used for a process's resident memory in `status` and on the dashboard.
public enum ByteText {
    public static func format(_ bytes: Int64) -> String {
        guard bytes >= 1000 else { return "\(max(0, bytes)) B" }
        var value = Double(bytes)
        for unit in ["kB", "MB", "GB", "TB", "PB"] {
            value /= 1000
            if value < 999.95 || unit == "PB" {
                return String(format: "%.1f", value) + " " + unit
            }
        }
        return "\(bytes) B"
    }
}
