// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "courier",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "courier", targets: ["courier"]),
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "CourierWorkers", targets: ["CourierWorkers"]),
        // For the fuzzing package in Fuzz/ only: its harness runs these targets under libFuzzer.
        // Their entry points are SPI (`@_spi(Fuzzing) import CourierFuzzing`), not API.
        .library(name: "CourierFuzzing", targets: ["CourierFuzzing"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .target(name: "CSocketBuffers"),
        .target(
            name: "MQTT",
            dependencies: [
                "CMosquitto",
                "CSocketBuffers",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierCore",
            dependencies: [
                "MQTT",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierEngine",
            dependencies: ["CourierCore", "MQTT"],
            swiftSettings: strict
        ),
        .target(
            name: "CourierConfig",
            dependencies: [
                "CourierCore",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierStore",
            dependencies: [
                "CourierCore",
                "MQTT",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The C API, for the applying thread's upsert (RequestRecord+GRDB.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierPostgres",
            dependencies: [
                "CourierCore",
                "CourierStore",
                "MQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierWorkers",
            dependencies: [
                "CourierCore",
                "MQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierBridge",
            dependencies: [
                "CourierCore",
                "CourierEngine",
                "CourierStore",
                "CourierWorkers",
                "MQTT",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierHTTP",
            dependencies: [
                "CourierBridge",
                "CourierCore",
                "CourierEngine",
                "CourierStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CourierDevices",
            dependencies: [
                "CourierCore",
                "CourierConfig",
                "MQTT",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "courier",
            dependencies: [
                "CourierBridge",
                "CourierConfig",
                "CourierCore",
                "CourierDevices",
                "CourierHTTP",
                "CourierPostgres",
                "CourierProcess",
                "CourierStore",
                "CourierWorkers",
                "MQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The benchmarks (Benchmarks/README.md), no part of the `courier` product. A target of this
        // package, not a package of its own: it starts private brokers and daemons (CourierTesting)
        // and times the store alone, through `package` API no other package sees.
        .executableTarget(
            name: "courier-bench",
            dependencies: [
                "CourierCore",
                "CourierDevices",
                "CourierProcess",
                "CourierStore",
                "CourierTesting",
                "CourierWorkers",
                "MQTT",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/Sources/courier-bench",
            swiftSettings: strict
        ),
        .target(
            name: "CourierProcess",
            swiftSettings: strict
        ),
        .target(
            name: "CourierFuzzing",
            dependencies: ["CourierConfig", "CourierCore", "CourierDevices", "CourierWorkers", "MQTT"],
            swiftSettings: strict
        ),
        .target(
            name: "CourierTestTraits",
            swiftSettings: strict
        ),
        .target(
            name: "CourierTesting",
            dependencies: ["CourierProcess", "MQTT", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "MQTTTests",
            dependencies: ["CourierTestTraits", "CMosquitto", "MQTT", "CourierTesting"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierCoreTests",
            dependencies: ["CourierCore", "CourierConfig"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierEngineTests",
            dependencies: ["CourierEngine", "CourierCore", "MQTT"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierStoreTests",
            dependencies: [
                "CourierTestTraits", "CourierStore", "CourierPostgres", "CourierCore", "CourierTesting", "MQTT",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierWorkersTests",
            dependencies: [
                "CourierWorkers", "CourierCore", "CourierTesting", "MQTT",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierBridgeTests",
            dependencies: ["CourierBridge"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierHTTPTests",
            dependencies: [
                "CourierHTTP", "CourierBridge", "CourierStore", "CourierCore", "CourierWorkers", "CourierTesting",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierEndToEndTests",
            dependencies: [
                "CourierTestTraits", "CourierProcess", "CourierTesting", "MQTT", "CourierCore", "CourierDevices",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierFuzzTests",
            dependencies: ["CourierTestTraits", "CourierFuzzing", "CourierConfig", "CourierCore", "CourierDevices", "CourierWorkers"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CourierDevicesTests",
            dependencies: ["CourierTestTraits", "CourierDevices", "CourierTesting", "MQTT", "CourierCore"],
            swiftSettings: strict
        ),
    ]
)
