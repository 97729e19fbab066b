// swift-tools-version:6.0
// The gateway data concentrator: agent, reference head-end and meter simulator.
// Module map: Docs/architecture.md (and ../shared/DESIGN.md).
import PackageDescription

/// Production targets import FoundationEssentials only; this keeps ICU (~40 MB) out of the binary.
let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

let package = Package(
    name: "concentrator",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "concentrator", targets: ["concentrator"]),
        .executable(name: "headend", targets: ["headend"]),
        .executable(name: "meter-sim", targets: ["meter-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // C libraries, found through pkg-config. Each has a module.modulemap and a shim.h.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CSerialPort", pkgConfig: "libserialport", providers: [.apt(["libserialport-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),

        // Operating-system calls Swift cannot import directly (variadic ioctl, openpty, thread names).
        .target(name: "CPlatform"),
        // Pure model: no I/O, no clock.
        .target(name: "ConcentratorCore", swiftSettings: strict),
        // Threads, clocks, files, signals, logging: the thin layer over the operating system.
        .target(name: "Platform", dependencies: [
            "ConcentratorCore", "CPlatform", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Pure codecs: bytes in, values or typed errors out.
        .target(name: "MeterProtocols", dependencies: ["ConcentratorCore"], swiftSettings: strict),
        .target(name: "Bus", dependencies: [
            "ConcentratorCore", "MeterProtocols", "Platform", "CModbus", "CSerialPort",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Archive", dependencies: [
            "ConcentratorCore", "Platform", "CSQLite", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Uplink", dependencies: [
            "ConcentratorCore", "Platform", "Archive", "CMosquitto", "CZstd",
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Signed commands: verification, authorisation, dispatch to an executor, replies, audit.
        .target(name: "Commands", dependencies: [
            "ConcentratorCore", "Platform", "Archive", "Uplink", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Agent", dependencies: [
            "ConcentratorCore", "Platform", "MeterProtocols", "Bus", "Archive", "Uplink", "Commands",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "MeterSimulator", dependencies: [
            "ConcentratorCore", "MeterProtocols", "Platform", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The installer's serial console: terminal layer, screens, config editing. Services that need
        // other modules (bus, uplink, archive, agent validation) are injected by the executable.
        .target(name: "Console", dependencies: ["ConcentratorCore", "Platform"], swiftSettings: strict),
        .target(name: "HeadEnd", dependencies: [
            "ConcentratorCore", "Platform", "Uplink", "Archive", "CSQLite",
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // Thin command-line front ends.
        .executableTarget(name: "concentrator", dependencies: [
            "Agent", "ConcentratorCore", "Platform", "Bus", "Archive", "Uplink", "Console",
            .product(name: "Logging", package: "swift-log"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "headend", dependencies: [
            "HeadEnd", "Uplink", "Archive", "ConcentratorCore", "Platform",
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .executableTarget(name: "meter-sim", dependencies: [
            "MeterSimulator", "Platform", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        // Benchmarks print JSON; they never fail on timing.
        .executableTarget(name: "bus-bench", dependencies: ["Bus", "MeterSimulator", "ConcentratorCore", "Platform"],
                          path: "Benchmarks/bus-bench"),
        .executableTarget(name: "archive-bench", dependencies: ["Archive", "ConcentratorCore", "Platform"],
                          path: "Benchmarks/archive-bench"),
        .executableTarget(name: "uplink-bench", dependencies: ["Uplink", "HeadEnd", "ConcentratorCore", "Platform"],
                          path: "Benchmarks/uplink-bench"),

        .target(name: "TestSupport", dependencies: ["ConcentratorCore", "Platform", .product(name: "Logging", package: "swift-log")],
                path: "Tests/TestSupport"),
        .testTarget(name: "ConcentratorCoreTests", dependencies: ["ConcentratorCore", "TestSupport"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", "TestSupport"]),
        .testTarget(name: "MeterProtocolsTests", dependencies: ["MeterProtocols", "ConcentratorCore", "TestSupport"]),
        .testTarget(name: "BusTests", dependencies: ["Bus", "MeterSimulator", "TestSupport"]),
        .testTarget(name: "ArchiveTests", dependencies: ["Archive", "TestSupport"]),
        .testTarget(name: "UplinkTests", dependencies: ["Uplink", "TestSupport"]),
        .testTarget(name: "CommandsTests", dependencies: ["Commands", "Uplink", "Archive", "Platform", "TestSupport"]),
        .testTarget(name: "MeterSimulatorTests", dependencies: ["MeterSimulator", "TestSupport"]),
        .testTarget(name: "HeadEndTests", dependencies: ["HeadEnd", "Uplink", "TestSupport"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "TestSupport"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "TestSupport"]),
        .testTarget(name: "EndToEndTests", dependencies: [
            "TestSupport", "ConcentratorCore", "Archive", "Uplink", "concentrator", "meter-sim", "headend",
        ]),
    ]
)
