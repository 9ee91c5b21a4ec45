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
        .library(name: "DiscoSystem", targets: ["DiscoSystem"]),
        .library(name: "DiscoLifecycle", targets: ["DiscoLifecycle"]),
        .library(name: "DiscoNet", targets: ["DiscoNet"]),
        .library(name: "RaftCore", targets: ["RaftCore"]),
        .library(name: "DiscoRaft", targets: ["DiscoRaft"]),
        .library(name: "SWIMCore", targets: ["SWIMCore"]),
        .library(name: "DiscoSWIM", targets: ["DiscoSWIM"]),
        .library(name: "DiscoDNSMessage", targets: ["DiscoDNSMessage"]),
        .library(name: "DNSServerCore", targets: ["DNSServerCore"]),
        .library(name: "DiscoDNSServer", targets: ["DiscoDNSServer"]),
        .library(name: "DiscoEtcd", targets: ["DiscoEtcd"]),
        .library(name: "DiscoConsul", targets: ["DiscoConsul"]),
        .library(name: "BootstrapCore", targets: ["BootstrapCore"]),
        .library(name: "Bootstrap", targets: ["Bootstrap"]),
        .library(name: "DiscoDiscovery", targets: ["DiscoDiscovery"]),
        .library(name: "DiscoAuth", targets: ["DiscoAuth"]),
        .library(name: "NodeRuntime", targets: ["NodeRuntime"]),
        .library(name: "DiscoRoles", targets: ["DiscoRoles"]),
        .library(name: "DiscoCLI", targets: ["DiscoCLI"]),
        .library(name: "LeaseCore", targets: ["LeaseCore"]),
        .library(name: "RateLimitCore", targets: ["RateLimitCore"]),
        .library(name: "Sidecar", targets: ["Sidecar"]),
        .library(name: "SidecarProxy", targets: ["SidecarProxy"]),
        .library(name: "HotCold", targets: ["HotCold"]),
        .library(name: "HotColdNode", targets: ["HotColdNode"]),
        .executable(name: "discod", targets: ["discod"]),
        .executable(name: "discoctl", targets: ["discoctl"]),
        .executable(name: "disco-sidecar", targets: ["disco-sidecar"]),
        .executable(name: "disco-sim", targets: ["disco-sim"]),
        .executable(name: "disco-bench-http", targets: ["disco-bench-http"]),
        .executable(name: "disco-bench-raft-shell", targets: ["disco-bench-raft-shell"]),
        .executable(name: "disco-swim-agent", targets: ["disco-swim-agent"]),
        .executable(name: "disco-bench-node", targets: ["disco-bench-node"]),
        .executable(name: "disco-bench-dns", targets: ["disco-bench-dns"]),
    ],
    dependencies: [],
    targets: [
        // MARK: Libraries
        // Pure vocabulary: no file, process, environment, socket or clock I/O.
        .target(name: "DiscoCore", swiftSettings: strictSettings),
        // The process around the vocabulary: durable files, environment, standard output, exit.
        .target(name: "DiscoSystem", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        // Services, service groups, graceful shutdown and signals: who owns every long-running task.
        .target(name: "DiscoLifecycle", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .systemLibrary(name: "CDiscoEpoll", path: "Sources/CDiscoEpoll"),
        .target(name: "DiscoNet", dependencies: ["DiscoCore", "CDiscoEpoll", "COpenSSL"], swiftSettings: strictSettings),
        // Protocol cores: pure value types that depend on the vocabulary only (Tests/LayeringTests
        // fails the build of the suite if one gains another dependency).
        .target(name: "RaftCore", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .target(name: "SWIMCore", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .target(name: "BootstrapCore", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        // Shells: storage, transport and timers around the cores.
        .target(name: "DiscoRaft", dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "RaftCore"], swiftSettings: strictSettings),
        // The SWIM shell seals gossip with AES-256-GCM from OpenSSL (Encryption/); the core never sees it.
        .target(name: "DiscoSWIM", dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "SWIMCore", "COpenSSL"],
                swiftSettings: strictSettings),
        .target(name: "DiscoEtcd", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .target(name: "DiscoConsul", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        .systemLibrary(name: "CResolv", path: "Sources/CResolv"),
        // OpenSSL 3 (libssl, libcrypto; Debian libssl-dev): TLS, hashing, AEAD, key derivation.
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
        // Access control: credentials, password hashes (libcrypto's PBKDF2 and scrypt), node keys.
        .target(name: "DiscoAuth", dependencies: ["DiscoCore", "COpenSSL"], swiftSettings: strictSettings),
        // The DNS message codec is pure and depends on nothing; DiscoDNS is the resolver client.
        .target(name: "DiscoDNSMessage", swiftSettings: strictSettings),
        .target(name: "DiscoDNS", dependencies: ["DiscoCore", "DiscoNet", "DiscoDNSMessage", "CResolv"], swiftSettings: strictSettings),
        .target(name: "DiscoSRV", dependencies: ["DiscoCore", "DiscoDNS"], swiftSettings: strictSettings),
        // The DNS role's server: a pure answering core (zone snapshots compiled to wire form, query
        // in, response out) and its UDP/TCP shell on DiscoNet.
        .target(name: "DNSServerCore", dependencies: ["DiscoCore", "DiscoDNSMessage"], swiftSettings: strictSettings),
        .target(name: "DiscoDNSServer", dependencies: ["DiscoCore", "DiscoNet", "DNSServerCore"], swiftSettings: strictSettings),
        // Shell/ and KV/ do the HTTP and KV-store I/O around the engine in BootstrapCore.
        .target(name: "Bootstrap", dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "BootstrapCore"], swiftSettings: strictSettings),
        .target(
            name: "DiscoDiscovery",
            dependencies: ["DiscoCore", "DiscoDNS", "DiscoSRV", "DiscoConsul", "DiscoEtcd"],
            swiftSettings: strictSettings
        ),
        // Hot/cold lease: settings, replicated state, holder and grantor. Pure: time comes in as inputs.
        .target(name: "LeaseCore", dependencies: ["DiscoCore"], swiftSettings: strictSettings),
        // The lease's shell: drives LeaseCore's holder and grantor over a replicated table
        // (LeaseTableStore), with the fencing middleware, state file, hooks and /hot answers.
        .target(name: "HotCold", dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "LeaseCore"], swiftSettings: strictSettings),
        // Hot/cold as a role of a node: the lease in the node's replicated key-value state, /hot routes.
        .target(name: "HotColdNode", dependencies: ["DiscoCore", "DiscoNet", "DiscoLifecycle", "LeaseCore", "HotCold", "NodeRuntime"],
                swiftSettings: strictSettings),
        // The node: composes consensus (Raft), membership (SWIM), formation and the HTTP API.
        .target(
            name: "NodeRuntime",
            dependencies: ["DiscoCore", "DiscoSystem", "DiscoLifecycle", "DiscoNet", "DiscoRaft", "DiscoSWIM", "Bootstrap", "DiscoDiscovery",
                           "DiscoAuth", "DiscoEtcd"],
            swiftSettings: strictSettings
        ),
        // The built-in roles, as plug-ins of the node: host (member change events) and dns (the
        // DNS server fed from the replicated state and gossip).
        .target(
            name: "DiscoRoles",
            dependencies: ["DiscoCore", "DiscoLifecycle", "DiscoNet", "DiscoDNSMessage", "DNSServerCore", "DiscoDNSServer", "NodeRuntime"],
            swiftSettings: strictSettings
        ),
        // The executable layer shared by discod, discoctl and disco-sidecar: discod's flags and
        // formation policy, turning them into a NodeConfiguration, running a node as a process;
        // a client's flags (credentials with their environment fallback, HTTPS) and address values.
        .target(
            name: "DiscoCLI",
            dependencies: ["DiscoCore", "DiscoSystem", "DiscoLifecycle", "DiscoDiscovery", "DiscoNet", "DiscoAuth", "NodeRuntime", "DiscoRoles",
                           "DNSServerCore", "DiscoDNSServer"],
            swiftSettings: strictSettings
        ),
        // nginx limit_req semantics as a pure core: no dependencies at all, so it cannot reach a
        // socket, a file or a clock (time comes in as milliseconds).
        .target(name: "RateLimitCore", swiftSettings: strictSettings),
        // disco-sidecar's pure core: configuration (flags, -proxy-config, -limit-req), routing
        // decisions, header rewriting, retry policy. No I/O (Tests/LayeringTests checks it).
        .target(name: "Sidecar", dependencies: ["DiscoCore", "RateLimitCore"], swiftSettings: strictSettings),
        // The sidecar's shell: the reverse proxy, middleware (API keys, rate limits), TCP
        // listeners, upstream health, the writer's whereabouts, metrics.
        .target(
            name: "SidecarProxy",
            dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "DiscoAuth", "RateLimitCore", "Sidecar"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "DiscoTestKit",
            dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "DiscoRaft", "DiscoSWIM", "Bootstrap", "LeaseCore", "RateLimitCore", "HotCold"],
            swiftSettings: strictSettings
        ),

        // MARK: Executables (thin mains)
        .executableTarget(name: "discod", dependencies: ["DiscoCLI"], swiftSettings: strictSettings),
        .executableTarget(
            name: "disco-sidecar",
            dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "DiscoAuth", "DiscoCLI", "DiscoLifecycle", "NodeRuntime", "RateLimitCore", "Sidecar", "SidecarProxy",
                           "LeaseCore", "HotCold", "HotColdNode"],
            swiftSettings: strictSettings
        ),
        // The operator tool: its client flags (-user/-password, HTTPS) and address parsing come from DiscoCLI.
        .executableTarget(name: "discoctl", dependencies: ["DiscoCLI", "DiscoCore", "DiscoSystem", "DiscoNet", "DiscoDiscovery", "DiscoDNS", "DiscoAuth"],
                          swiftSettings: strictSettings),
        .executableTarget(
            name: "disco-sim",
            dependencies: ["DiscoCore", "DiscoSystem", "DiscoRaft", "DiscoSWIM", "LeaseCore", "RateLimitCore", "DiscoTestKit"],
            swiftSettings: strictSettings
        ),

        .executableTarget(
            name: "disco-bench-http", dependencies: ["DiscoNet", "DiscoSystem"], path: "Benchmarks/HTTPBenchServer",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "disco-bench-raft-shell", dependencies: ["DiscoCore", "DiscoSystem", "DiscoRaft"], path: "Benchmarks/raft-core/ShellBench",
            swiftSettings: strictSettings
        ),
        // Load generator for the node benchmarks (formation, failover, append) against discod and etcd.
        .executableTarget(
            name: "disco-bench-node", dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet"], path: "Benchmarks/NodeBench",
            swiftSettings: strictSettings
        ),
        // Serves a fixed zone snapshot for the dns benchmark (dnsperf against it and dnsmasq).
        .executableTarget(
            name: "disco-bench-dns", dependencies: ["DiscoCore", "DiscoNet", "DNSServerCore", "DiscoDNSServer"], path: "Benchmarks/DNSBenchServer",
            swiftSettings: strictSettings
        ),
        // One SWIM member as a process: real-process tests and the swim benchmark.
        .executableTarget(
            name: "disco-swim-agent", dependencies: ["DiscoCore", "DiscoSystem", "DiscoNet", "DiscoSWIM"], path: "Benchmarks/SWIMAgent",
            swiftSettings: strictSettings
        ),

        // MARK: Tests (one target per module)
        .testTarget(name: "DiscoCoreTests", dependencies: ["DiscoCore", "DiscoSystem", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoNetTests", dependencies: ["DiscoNet", "DiscoSystem", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoAuthTests", dependencies: ["DiscoAuth", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "RaftCoreTests", dependencies: ["RaftCore", "DiscoRaft", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoRaftTests", dependencies: ["DiscoRaft", "DiscoTestKit", "DiscoSystem"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoDNSMessageTests", dependencies: ["DiscoDNSMessage"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoDNSTests", dependencies: ["DiscoDNS", "DiscoNet", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "DiscoSRVTests", dependencies: ["DiscoSRV", "DiscoDNS", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DNSServerCoreTests", dependencies: ["DNSServerCore", "DiscoDNSMessage", "DiscoCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "DiscoDNSServerTests",
            dependencies: ["DiscoDNSServer", "DNSServerCore", "DiscoNet", "DiscoDNS", "DiscoSRV", "DiscoCore", "DiscoTestKit"],
            swiftSettings: strictSettings),
        .testTarget(name: "SWIMCoreTests", dependencies: ["SWIMCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoSWIMTests", dependencies: ["DiscoSWIM", "DiscoTestKit", "DiscoSystem"], swiftSettings: strictSettings),
        .testTarget(
            name: "DiscoCLITests",
            dependencies: ["DiscoCLI", "NodeRuntime", "DiscoCore", "DiscoRoles", "DNSServerCore", "DiscoDNSServer", "DiscoDNSMessage", "DiscoTestKit"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "DiscoRolesTests",
            dependencies: ["DiscoRoles", "NodeRuntime", "DNSServerCore", "DiscoDNSServer", "DiscoDNSMessage", "DiscoCore", "DiscoNet",
                           "DiscoLifecycle", "DiscoSystem", "DiscoTestKit"],
            swiftSettings: strictSettings),
        .testTarget(name: "NodeRuntimeTests", dependencies: ["NodeRuntime", "DiscoLifecycle", "DiscoTestKit", "DiscoSystem", "DiscoEtcd", "DiscoNet"],
                    swiftSettings: strictSettings),
        .testTarget(name: "BootstrapCoreTests", dependencies: ["BootstrapCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "BootstrapTests", dependencies: ["Bootstrap", "DiscoSystem", "DiscoTestKit", "DiscoEtcd", "DiscoConsul", "DiscoNet"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoLifecycleTests", dependencies: ["DiscoLifecycle", "DiscoSystem", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoSystemTests", dependencies: ["DiscoSystem", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "LeaseCoreTests", dependencies: ["LeaseCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "HotColdTests", dependencies: ["HotCold", "LeaseCore", "DiscoCore", "DiscoNet", "DiscoSystem", "DiscoTestKit"],
                    swiftSettings: strictSettings),
        .testTarget(name: "HotColdNodeTests", dependencies: ["HotColdNode", "HotCold", "LeaseCore", "NodeRuntime", "DiscoEtcd", "DiscoCore", "DiscoNet", "DiscoSystem", "DiscoLifecycle", "DiscoTestKit"],
                    swiftSettings: strictSettings),
        .testTarget(name: "RateLimitCoreTests", dependencies: ["RateLimitCore", "DiscoCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "SidecarTests", dependencies: ["Sidecar", "RateLimitCore", "DiscoCore", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(
            name: "SidecarProxyTests",
            dependencies: ["SidecarProxy", "Sidecar", "RateLimitCore", "DiscoCore", "DiscoSystem", "DiscoNet", "DiscoTestKit", "LeaseCore"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "DiscoTestKitTests", dependencies: ["DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoConsulTests", dependencies: ["DiscoConsul", "DiscoTestKit"], swiftSettings: strictSettings),
        .testTarget(name: "DiscoEtcdTests", dependencies: ["DiscoEtcd", "DiscoTestKit"], swiftSettings: strictSettings),
        // Reads Package.swift and the pure targets' sources: fails if a core gains an I/O dependency.
        .testTarget(name: "LayeringTests", dependencies: ["DiscoCore", "DiscoTestKit"], swiftSettings: strictSettings),
        // Runs the built discod and discoctl executables as processes.
        .testTarget(name: "DiscodTests", dependencies: ["DiscoCore", "DiscoNet", "DiscoConsul", "DiscoEtcd", "RaftCore", "DiscoTestKit"], swiftSettings: strictSettings),
    ]
)
