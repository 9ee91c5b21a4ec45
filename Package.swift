// swift-tools-version:6.0
// Disco: clusters that form themselves. No package dependencies, by design.
import PackageDescription

/// Settings shared by every target: Swift 6 language mode (strict concurrency) plus upcoming
/// features that keep the code honest.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Disco",
    products: [
        .library(name: "DiscoCore", targets: ["DiscoCore"]),
        .library(name: "DiscoNet", targets: ["DiscoNet"]),
        .library(name: "DiscoRaft", targets: ["DiscoRaft"]),
        .library(name: "DiscoSWIM", targets: ["DiscoSWIM"]),
        .library(name: "DiscoEtcd", targets: ["DiscoEtcd"]),
        .library(name: "DiscoConsul", targets: ["DiscoConsul"]),
        .library(name: "Bootstrap", targets: ["Bootstrap"]),
        .library(name: "DiscoDiscovery", targets: ["DiscoDiscovery"]),
        .library(name: "NodeRuntime", targets: ["NodeRuntime"]),
        .executable(name: "discod", targets: ["discod"]),
        .executable(name: "discoctl", targets: ["discoctl"]),
        .executable(name: "disco-sim", targets: ["disco-sim"]),
        .executable(name: "disco-bench-http", targets: ["disco-bench-http"]),
        .executable(name: "disco-bench-raft-shell", targets: ["disco-bench-raft-shell"]),
        .executable(name: "disco-swim-agent", targets: ["disco-swim-agent"]),
        .executable(name: "disco-bench-node", targets: ["disco-bench-node"]),
    ],
    dependencies: [],
    targets: [
        // MARK: Libraries
        .target(name: "DiscoCore", swiftSettings: strictSettings),
        .systemLibrary(name: "CDiscoEpoll", path: "Sources/CDiscoEpoll"),
        .target(name: "DiscoNet", dependencies: ["DiscoCore", "CDiscoEpoll", "COpenSSL"], swiftSettings: strictSettings),
        // DiscoNet is used only by Shell/ and Transport/; the core and codec stay free of I/O.
        .target(name: "DiscoRaft", dependencies: ["DiscoCore", "DiscoNet"], swiftSettings: strictSettings),
        .target(name: "DiscoSWIM", dependencies: ["DiscoCore", "DiscoNet"], swiftSettings: strictSettings),
        .target(name: "DiscoEtcd", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .target(name: "DiscoConsul", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .systemLibrary(name: "CResolv", path: "Sources/CResolv"),
        // OpenSSL 3 (libssl, libcrypto; Debian libssl-dev): TLS, hashing, AEAD, key derivation.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        .target(name: "DiscoDNS", dependencies: ["DiscoCore", "CResolv"], swiftSettings: strictSettings),
        .target(name: "DiscoSRV", dependencies: ["DiscoCore", "DiscoDNS"], swiftSettings: strictSettings),
        // The engine (Core/) is pure; Shell/ and KV/ do the HTTP and KV-store I/O around it.
        .target(name: "Bootstrap", dependencies: ["DiscoCore", "DiscoNet"], swiftSettings: strictSettings),
        .target(
            name: "DiscoDiscovery",
            dependencies: ["DiscoCore", "DiscoDNS", "DiscoSRV", "DiscoConsul", "DiscoEtcd"],
            swiftSettings: strictSettings
        ),
        // The node: composes consensus (Raft), membership (SWIM), formation and the HTTP API.
        .target(
            name: "NodeRuntime",
            dependencies: ["DiscoCore", "DiscoNet", "DiscoRaft", "DiscoSWIM", "Bootstrap", "DiscoDiscovery"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DiscoTestKit",
            dependencies: ["DiscoCore", "DiscoNet", "DiscoRaft", "DiscoSWIM", "Bootstrap"],
            swiftSettings: strictSettings
        ),

        // MARK: Executables (thin mains)
        .executableTarget(name: "discod", dependencies: ["DiscoCore", "DiscoNet", "NodeRuntime"], swiftSettings: strictSettings),
        .executableTarget(name: "discoctl", dependencies: ["DiscoCore", "DiscoNet", "DiscoDiscovery"], swiftSettings: strictSettings),
        .executableTarget(
            name: "disco-sim",
            dependencies: ["DiscoCore", "DiscoRaft", "DiscoSWIM", "DiscoTestKit"],
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "disco-bench-http", dependencies: ["DiscoNet"], path: "Benchmarks/HTTPBenchServer",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "disco-bench-raft-shell", dependencies: ["DiscoCore", "DiscoRaft"], path: "Benchmarks/raft-core/ShellBench",
            swiftSettings: strictSettings
        ),
        // Load generator for the node benchmarks (formation, failover, append) against discod and etcd.
        .executableTarget(
            name: "disco-bench-node", dependencies: ["DiscoCore", "DiscoNet"], path: "Benchmarks/NodeBench",
            swiftSettings: strictSettings
        ),
        // One SWIM member as a process: real-process tests and the swim benchmark.
        .executableTarget(
            name: "disco-swim-agent", dependencies: ["DiscoCore", "DiscoNet", "DiscoSWIM"], path: "Benchmarks/SWIMAgent",
            swiftSettings: strictSettings
        ),

        // MARK: Tests (one target per module)
        .testTarget(name: "DiscoCoreTests", dependencies: ["DiscoCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoNetTests", dependencies: ["DiscoNet", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoRaftTests", dependencies: ["DiscoRaft", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoDNSTests", dependencies: ["DiscoDNS", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "DiscoSRVTests", dependencies: ["DiscoSRV", "DiscoDNS", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoSWIMTests", dependencies: ["DiscoSWIM", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "NodeRuntimeTests", dependencies: ["NodeRuntime", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "BootstrapTests", dependencies: ["Bootstrap", "DiscoTestKit", "DiscoEtcd", "DiscoConsul", "DiscoNet"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoTestKitTests", dependencies: ["DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoConsulTests", dependencies: ["DiscoConsul", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoEtcdTests", dependencies: ["DiscoEtcd", "DiscoTestKit"], swiftSettings: strictSettings),
        // Runs the built discod and discoctl executables as processes.
        .testTarget(name: "DiscodTests", dependencies: ["DiscoCore", "DiscoNet", "DiscoConsul", "DiscoEtcd", "DiscoTestKit"], swiftSettings: strictSettings),
    ]
)
