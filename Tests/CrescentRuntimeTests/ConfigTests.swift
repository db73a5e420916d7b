import CrescentCore
import Foundation
import Testing

@testable import CrescentRuntime

@Suite struct ConfigTests {
    func parse(_ text: String, env: [String: String] = [:]) throws(CrescentError) -> Config {
        try Config.parse(text, file: "/srv/app/crescent.toml", environment: env)
    }

    func error(_ text: String, env: [String: String] = [:]) -> CrescentError? {
        do {
            _ = try parse(text, env: env)
            return nil
        } catch {
            return error
        }
    }

    @Test func defaultsWhenEmpty() throws {
        let c = try parse("")
        #expect(c.database == "/srv/app/crescent.db")
        #expect(c.tasksDir.path == "/srv/app/tasks")
        #expect(c.durability == .normal)
        #expect(c.queues == [.init(name: "default", concurrency: 100)])
        #expect(c.memoryLimit == 256 << 20)
        #expect(c.lease == 10)
        #expect(c.shutdownTimeout == 30)
        #expect(c.httpListen == nil)
        #expect(c.maxConnectionsPerHost == 256)
        #expect(c.httpTimeout == 30)
        #expect(c.logFormat == .json)
        #expect(c.logLevel == "info")
        #expect(c.retentionSucceeded == 86400)
        #expect(c.retentionDead == 30 * 86400)
        #expect(c.threads >= 1)
    }

    @Test func everyKey() throws {
        let c = try parse("""
            database = "data/jobs.db"
            durability = "full"
            tasks = "/opt/tasks"

            [workers]
            threads = 3
            memory = "64MB"
            lease = "15s"
            shutdown_timeout = "1m"

            [[queues]]
            name = "critical"
            concurrency = 10
            [[queues]]
            name = "default"
            concurrency = 50

            [http]
            listen = "0.0.0.0:8080"
            password = "${PW}"

            [http_client]
            max_connections_per_host = 16
            timeout = "5s"

            [log]
            format = "text"
            level = "debug"

            [retention]
            succeeded = "2h"
            dead = "7d"

            [env]
            NORTHSTAR_URL = "https://example.org"
            RETRIES = 3
            """, env: ["PW": "s3cret"])
        #expect(c.database == "/srv/app/data/jobs.db")
        #expect(c.durability == .full)
        #expect(c.tasksDir.path == "/opt/tasks")
        #expect(c.threads == 3)
        #expect(c.memoryLimit == 64 << 20)
        #expect(c.lease == 15)
        #expect(c.shutdownTimeout == 60)
        #expect(c.queues == [.init(name: "critical", concurrency: 10), .init(name: "default", concurrency: 50)])
        #expect(c.defaultConcurrency == 50)
        #expect(c.httpListen?.host == "0.0.0.0" && c.httpListen?.port == 8080)
        #expect(c.httpPassword == "s3cret")
        #expect(c.maxConnectionsPerHost == 16)
        #expect(c.httpTimeout == 5)
        #expect(c.logFormat == .text && c.logLevel == "debug")
        #expect(c.retentionSucceeded == 7200 && c.retentionDead == 7 * 86400)
        #expect(c.env == ["NORTHSTAR_URL": "https://example.org", "RETRIES": "3"])
    }

    @Test func unknownTopLevelKeyNamesFileLineAndKey() {
        let e = error("database = \"x.db\"\n\ndatabse = \"y.db\"\n")
        #expect(e?.kind == .config)
        #expect(e?.exitCode == 2)
        #expect(e?.line == 3)
        #expect(e?.description.hasPrefix("/srv/app/crescent.toml:3: key \"databse\": unknown key") == true)
    }

    @Test func unknownNestedKey() {
        let e = error("[workers]\nthreads = 2\n\n[log]\nlevel = \"info\"\ncolour = true\n")
        #expect(e?.line == 6)
        #expect(e?.field == "log.colour")
    }

    @Test func unknownKeyInSecondQueue() {
        let e = error("[[queues]]\nname = \"a\"\n[[queues]]\nname = \"b\"\nconcurency = 3\n")
        #expect(e?.line == 5)
        #expect(e?.message.contains("concurency") == true)
    }

    @Test func wrongTypes() {
        let e = error("[workers]\nthreads = \"two\"\n")
        #expect(e?.line == 2)
        #expect(e?.message == "key \"workers.threads\": must be an integer, not string")
        #expect(error("durability = \"sometimes\"")?.message.contains("\"normal\" or \"full\"") == true)
        #expect(error("[workers]\nlease = \"ten seconds\"")?.field == "workers.lease")
        #expect(error("[workers]\nmemory = \"lots\"")?.field == "workers.memory")
        #expect(error("[log]\nlevel = \"loud\"")?.line == 2)
        #expect(error("[http]\nlisten = \"nowhere\"")?.field == "http.listen")
        #expect(error("workers = 3")?.message.contains("must be a table") == true)
        #expect(error("[[queues]]\nconcurrency = 3")?.message.contains("needs a name") == true)
    }

    @Test func unparsableTOMLNamesLine() {
        let e = error("database = \"x.db\"\n[workers\nthreads = 2\n")
        #expect(e?.kind == .config)
        #expect(e?.line == 2)
        #expect(e?.description.hasPrefix("/srv/app/crescent.toml:2: not valid TOML") == true)
    }

    @Test func envExpansion() throws {
        #expect(try parse("database = \"${DIR}/c.db\"", env: ["DIR": "/var/lib"]).database == "/var/lib/c.db")
        let e = error("[http]\npassword = \"${NOPE}\"")
        #expect(e?.message.contains("${NOPE}") == true)
        #expect(e?.line == 2)
    }

    @Test func nonLoopbackWithoutPasswordIsRefused() throws {
        #expect(error("[http]\nlisten = \"0.0.0.0:7420\"")?.exitCode == 2)
        #expect(try parse("[http]\nlisten = \"127.0.0.1:7420\"").httpListen?.port == 7420)
        #expect(try parse("[http]").httpListen?.host == "127.0.0.1")
    }

    @Test func missingExplicitFileIsAnError() {
        #expect(throws: CrescentError.self) { try Config.load(path: "/nonexistent/crescent.toml", environment: [:]) }
    }
}

@Suite struct ConfigAllowHostsTests {
    func error(_ text: String) -> CrescentError? {
        do { _ = try Config.parse(text, file: "/srv/app/crescent.toml", environment: [:]); return nil } catch { return error }
    }

    @Test func allowHostsParsesAndReachesTheLuaConfig() throws {
        let c = try Config.parse("[http_client]\nallow_hosts = [\"api.example.org\", \"*.internal\", \"10.0.0.0/8\"]\n",
                                 file: "/srv/app/crescent.toml", environment: [:])
        let list = try #require(c.luaConfig.httpAllowHosts)
        #expect(list.allowsHost("api.example.org") && list.allowsHost("db.internal") && list.allowsHost("10.2.3.4"))
        #expect(!list.allowsHost("example.org"))
        #expect(try Config.parse("", file: "/srv/app/crescent.toml", environment: [:]).luaConfig.httpAllowHosts == nil)
    }

    @Test func badAllowHostsNameTheKey() {
        for (text, fragment) in [
            ("allow_hosts = \"api.example.org\"", "must be an array of host names"),
            ("allow_hosts = [1]", "entries must be strings"),
            ("allow_hosts = [\"http://api.example.org\"]", "\"http://api.example.org\" is not a host name"),
            ("allow_hosts = [\"10.0.0.0/40\"]", "\"10.0.0.0/40\" is not a host name"),
        ] {
            let e = error("[http_client]\n\(text)\n")
            #expect(e?.message.contains("key \"http_client.allow_hosts\"") == true, "\(String(describing: e))")
            #expect(e?.message.contains(fragment) == true, "\(String(describing: e))")
            #expect(e?.line == 2)
        }
    }
}
