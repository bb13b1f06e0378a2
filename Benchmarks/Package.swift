// swift-tools-version: 6.2
// courier-bench, kept out of the product's package so that building Courier never builds it (as
// swift-kafka-client keeps its benchmarks). It depends on the main package by path: on the
// `courier` executable, built beside courier-bench, which the benchmarks run, and on the
// CourierBenchmarkSupport product. Run it with
// `swift run -c release --package-path Benchmarks courier-bench bridge`.
import PackageDescription

let package = Package(
    name: "courier-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "courier", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "courier-bench",
            dependencies: [
                .product(name: "courier", package: "courier"),
                .product(name: "CourierBenchmarkSupport", package: "courier"),
                .product(name: "CourierWorkers", package: "courier"),
                .product(name: "MQTT", package: "courier"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: [.treatAllWarnings(as: .error)]
        ),
    ]
)
