import Foundation

/// Settings of the Lua bridge, taken from `crescent.toml` by the runtime.
public struct LuaConfig: Sendable {
    /// The tasks directory.
    public var tasksDir: URL
    /// Errors and chunk names name files relative to this folder (the config's folder).
    public var displayRoot: URL
    /// Bytes per Lua VM (`[workers] memory`).
    public var memoryLimit: Int
    /// The config's `[env]` table: the only values handlers can read through `env`.
    public var env: [String: String]
    /// Default seconds per `http` request (`[http_client] timeout`).
    public var httpTimeout: Double
    /// `[http_client] max_connections_per_host`.
    public var maxConnectionsPerHost: Int
    /// Seconds a task file may run while loading.
    public var loadTimeLimit: Double
    /// `[http_client] allow_hosts`: when set, the only hosts handlers may reach.
    public var httpAllowHosts: HTTPAllowList?

    public init(tasksDir: URL, displayRoot: URL? = nil, memoryLimit: Int = 256 << 20, env: [String: String] = [:],
                httpTimeout: Double = 30, maxConnectionsPerHost: Int = 256, loadTimeLimit: Double = 1,
                httpAllowHosts: HTTPAllowList? = nil) {
        self.tasksDir = tasksDir
        self.displayRoot = displayRoot ?? tasksDir.deletingLastPathComponent()
        self.memoryLimit = memoryLimit
        self.env = env
        self.httpTimeout = httpTimeout
        self.maxConnectionsPerHost = maxConnectionsPerHost
        self.loadTimeLimit = loadTimeLimit
        self.httpAllowHosts = httpAllowHosts
    }
}
