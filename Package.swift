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
        .executable(name: "fleet-sim", targets: ["fleet-sim"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // Head-end only: the operator's web dashboard and its /metrics.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // C libraries, found through pkg-config. Each has a module.modulemap and a shim.h.
        .systemLibrary(name: "CModbus", pkgConfig: "libmodbus", providers: [.apt(["libmodbus-dev"])]),
        .systemLibrary(name: "CSerialPort", pkgConfig: "libserialport", providers: [.apt(["libserialport-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto", providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // libpq, the PostgreSQL client: the head-end only (Docs/headend.md, "Why libpq").
        .systemLibrary(name: "CPostgreSQL", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),

        // Operating-system calls Swift cannot import directly (variadic ioctl, openpty, thread names).
        .target(name: "CPlatform"),
        // Pure model: no I/O, no clock.
        .target(name: "ConcentratorCore", swiftSettings: strict),
        // Threads, clocks, files, signals, logging: the thin layer over the operating system.
        .target(name: "Platform", dependencies: [
            "ConcentratorCore", "CPlatform", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Pure codecs: bytes in, values or typed errors out.
        .target(name: "MeterProtocols", dependencies: [
            "ConcentratorCore", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        .target(name: "Bus", dependencies: [
            "ConcentratorCore", "MeterProtocols", "Platform", "CModbus", "CSerialPort",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The SQLite wrapper and the one schema migrator (the archive's and the head-end's).
        .target(name: "SQLite", dependencies: ["CSQLite", "ConcentratorCore", "Platform"], swiftSettings: strict),
        .target(name: "Archive", dependencies: [
            "ConcentratorCore", "Platform", "SQLite", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Pure codecs of the contract with the head-end: batches, acks, commands, replies, keys. No I/O, no clock.
        .target(name: "Wire", dependencies: [
            "ConcentratorCore", "CZstd", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        // Key files on disk: private keys (0600) and public key documents, in Wire's formats.
        .target(name: "KeyFiles", dependencies: ["ConcentratorCore", "Platform", "Wire"], swiftSettings: strict),
        // The MQTT v5 client over libmosquitto.
        .target(name: "MQTT", dependencies: [
            "ConcentratorCore", "Platform", "CMosquitto", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The outbox drain over MQTT, the outbox sealer and the device keys.
        .target(name: "Uplink", dependencies: [
            "ConcentratorCore", "Platform", "Archive", "Wire", "KeyFiles", "MQTT",
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // Mesh relay between concentrators: frames, fragmentation, links (simulated, UDP, serial LoRa radio),
        // routing, store-carry-forward, time from beacons, the deterministic simulation. Docs/mesh.md.
        .target(name: "Mesh", dependencies: [
            "ConcentratorCore", "Platform", "SQLite", .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: strict),
        // Signed commands: verification, authorisation, dispatch to an executor, replies, audit.
        .target(name: "Commands", dependencies: [
            "ConcentratorCore", "Platform", "Archive", "Wire", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "Agent", dependencies: [
            "ConcentratorCore", "Platform", "Bus", "Archive", "Wire", "KeyFiles", "Uplink", "Commands", "Monitoring", "Mesh", "MQTT",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .target(name: "MeterSimulator", dependencies: [
            "ConcentratorCore", "MeterProtocols", "Platform", "CPlatform", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // The installer's serial console: terminal layer, screens, config editing. Services that need
        // other modules (bus, uplink, archive, agent validation) are injected by the executable.
        .target(name: "Console", dependencies: ["ConcentratorCore", "Platform"], swiftSettings: strict),
        // The PostgreSQL client over libpq (blocking; used on dedicated threads). Head-end only.
        .target(name: "PostgreSQL", dependencies: ["CPostgreSQL", "ConcentratorCore"], swiftSettings: strict),
        // Edge monitoring, pure: alarm rules, schedules, solar times, zone rules (TZif), load curves, CER exports.
        // Time is injected; the agent and the head-end wire it in (Docs/edge-monitoring.md).
        .target(name: "Monitoring", dependencies: ["ConcentratorCore"], swiftSettings: strict),
        // The reference head-end: no agent archive, no outbox; its own stores (SQLite, PostgreSQL) through the one migrator.
        .target(name: "HeadEnd", dependencies: [
            "ConcentratorCore", "Platform", "SQLite", "PostgreSQL", "Wire", "KeyFiles", "MQTT", "Monitoring", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        // A simulated fleet of concentrators (sealed batches over MQTT, outbox semantics): fleet-sim, benches, tests.
        .target(name: "FleetSimulation", dependencies: [
            "ConcentratorCore", "Platform", "Wire", "MQTT", .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // The operator's web dashboard (Hummingbird) over a read model of the head-end store, /metrics. Head-end only.
        .target(name: "HeadEndWeb", dependencies: [
            "HeadEnd", "ConcentratorCore", "Platform", "SQLite", "Wire",
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // The flags and checks the export commands of both front ends share.
        .target(name: "ExportOptions", dependencies: [
            "ConcentratorCore", "Platform", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),

        // Thin command-line front ends.
        .executableTarget(name: "concentrator", dependencies: [
            "Agent", "ConcentratorCore", "Platform", "Bus", "Archive", "Wire", "KeyFiles", "MQTT", "Console", "ExportOptions", "Mesh",
            .product(name: "Logging", package: "swift-log"), .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "headend", dependencies: [
            "HeadEnd", "HeadEndWeb", "Wire", "KeyFiles", "ConcentratorCore", "Platform", "ExportOptions", "Monitoring",
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),
        .executableTarget(name: "meter-sim", dependencies: [
            "MeterSimulator", "MeterProtocols", "ConcentratorCore", "Platform", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: strict),
        .executableTarget(name: "fleet-sim", dependencies: [
            "FleetSimulation", "HeadEnd", "KeyFiles", "Wire", "ConcentratorCore", "Platform",
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: strict),

        // Benchmarks print JSON; they never fail on timing.
        .executableTarget(name: "bus-bench", dependencies: [
            "Bus", "MeterSimulator", "MeterProtocols", "ConcentratorCore", "Platform", .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/bus-bench"),
        .executableTarget(name: "archive-bench", dependencies: [
            "Archive", "SQLite", "ConcentratorCore", "Platform", .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/archive-bench"),
        .executableTarget(name: "uplink-bench", dependencies: [
            "Wire", "HeadEnd", "FleetSimulation", "ConcentratorCore", "Platform", .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/uplink-bench"),
        .executableTarget(name: "fleet-bench", dependencies: [
            "Wire", "HeadEnd", "FleetSimulation", "ConcentratorCore", "Platform", "MQTT", "PostgreSQL",
            .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/fleet-bench"),
        .executableTarget(name: "dashboard-bench", dependencies: [
            "HeadEndWeb", "HeadEnd", "ConcentratorCore", "Platform",
        ], path: "Benchmarks/dashboard-bench"),

        .target(name: "TestSupport", dependencies: [
            "ConcentratorCore", "Platform", "MeterProtocols", .product(name: "Logging", package: "swift-log"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "ConcentratorCoreTests", dependencies: ["ConcentratorCore", "TestSupport"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", "CPlatform", "ConcentratorCore", "TestSupport"]),
        .testTarget(name: "MeterProtocolsTests", dependencies: ["MeterProtocols", "ConcentratorCore", "TestSupport"]),
        .testTarget(name: "BusTests", dependencies: [
            "Bus", "MeterSimulator", "MeterProtocols", "ConcentratorCore", "Platform", "CPlatform", "TestSupport", "Monitoring",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SQLiteTests", dependencies: ["SQLite", "CSQLite", "TestSupport"]),
        .testTarget(name: "ArchiveTests", dependencies: [
            "Archive", "SQLite", "ConcentratorCore", "Platform", "TestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        // The wire codecs, and the key files in their formats (they share the key fixtures).
        .testTarget(name: "WireTests", dependencies: ["Wire", "KeyFiles", "ConcentratorCore", "Platform", "TestSupport"]),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT", "Platform", "TestSupport", .product(name: "Logging", package: "swift-log")]),
        // The outbox drain's sealer under faults (issue 17).
        .testTarget(name: "UplinkTests", dependencies: ["Uplink", "Wire", "MQTT", "CMosquitto", "Archive", "SQLite", "ConcentratorCore", "Platform", "TestSupport"]),
        .testTarget(name: "CommandsTests", dependencies: [
            "Commands", "Wire", "Archive", "ConcentratorCore", "Platform", "TestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "MeterSimulatorTests", dependencies: [
            "MeterSimulator", "MeterProtocols", "ConcentratorCore", "Platform", "TestSupport",
        ]),
        .testTarget(name: "HeadEndTests", dependencies: [
            "HeadEnd", "Wire", "KeyFiles", "MQTT", "SQLite", "PostgreSQL", "ConcentratorCore", "Platform", "TestSupport", "Monitoring",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "HeadEndWebTests", dependencies: [
            "HeadEndWeb", "HeadEnd", "SQLite", "ConcentratorCore", "Platform", "Wire", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "ConcentratorCore", "Platform", "TestSupport"]),
        .testTarget(name: "AgentTests", dependencies: [
            "Agent", "Archive", "Commands", "Wire", "ConcentratorCore", "Platform", "TestSupport", "Monitoring", "MQTT",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "ConcentratorCore", "Platform", "TestSupport"]),
        .testTarget(name: "MeshTests", dependencies: [
            "Mesh", "ConcentratorCore", "Platform", "CPlatform", "TestSupport", .product(name: "Crypto", package: "swift-crypto"),
            "Agent", "MQTT", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EndToEndTests", dependencies: [
            "TestSupport", "ConcentratorCore", "Platform", "Archive", "SQLite", "Wire", "KeyFiles", "MQTT", "Monitoring", "HeadEnd", "FleetSimulation",
            .product(name: "Logging", package: "swift-log"), "concentrator", "meter-sim", "headend", "fleet-sim",
        ]),
    ]
)
