// swift-tools-version: 6.2
// The libFuzzer harness, kept out of the main package so that its builds and tests never see
// the sanitizer flags. Build and run it with `Scripts/fuzz.sh`; the fuzz targets themselves are
// in the main package's CourierFuzzing module.
import PackageDescription

let libFuzzer: [String] = ["-sanitize=fuzzer,address"]

let package = Package(
    name: "courier-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "courier", path: ".."),
    ],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver for Swift.
        .target(name: "CLibFuzzer"),
        .executableTarget(
            name: "courier-fuzz",
            dependencies: ["CLibFuzzer", .product(name: "CourierFuzzing", package: "courier")],
            swiftSettings: [.unsafeFlags(libFuzzer)],
            linkerSettings: [.unsafeFlags(libFuzzer + ["-use-ld=lld"])]
        ),
    ]
)
