// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "crescent",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "crescent", targets: ["crescent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        .target(name: "CLuaShim", dependencies: ["CLua"]),
        .target(name: "CSQLiteShim", linkerSettings: [.linkedLibrary("sqlite3")]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(
            name: "CrescentCore",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "CrescentStore",
            dependencies: ["CrescentCore", "CSQLiteShim", "CPostgres", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "CrescentLua",
            dependencies: [
                "CrescentCore", "CLua", "CLuaShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "CrescentRuntime",
            dependencies: [
                "CrescentCore", "CrescentStore", "CrescentLua",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .target(
            name: "CrescentHTTP",
            dependencies: [
                "CrescentRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: []
        ),
        .executableTarget(
            name: "crescent",
            dependencies: [
                "CrescentCore", "CrescentStore", "CrescentLua", "CrescentRuntime", "CrescentHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "CrescentCoreTests", dependencies: ["CrescentCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "CrescentStoreTests", dependencies: ["CrescentStore"]),
        .testTarget(name: "CrescentLuaTests", dependencies: ["CrescentLua"]),
        .testTarget(name: "CrescentRuntimeTests", dependencies: ["CrescentRuntime"]),
        .testTarget(name: "IntegrationTests", dependencies: ["CrescentCore"]),
        .testTarget(
            name: "CrescentHTTPTests",
            dependencies: ["CrescentHTTP", .product(name: "HummingbirdTesting", package: "hummingbird")]
        ),
    ]
)
