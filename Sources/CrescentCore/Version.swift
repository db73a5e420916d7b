/// This build's version: `crescent --version`, `crescent_build_info{version}`.
public enum CrescentVersion {
    public static let current = "0.9.0"
}
