import Foundation
@preconcurrency import Glibc
import Synchronization

// MARK: - PodNetwork

/// A private pod network on this machine: a Linux bridge with a /24 from 198.18.0.0/15 (the
/// range RFC 2544 sets aside for benchmark networks, so it meets no real network), or for an
/// IPv6-only cluster a /64 of the unique-local fd00:d15c::/32, and one
/// network namespace per pod joined to it by a veth pair. The host is the gateway (`.1`), so the
/// test process reaches every pod directly, as a kubelet does.
///
/// Concurrent test runs each lease their own /24 with a lock file under `/run/disco-k8s`; the
/// lock dies with its process, and whatever a crashed run left on its /24 (namespaces, links,
/// processes, `/etc/netns` files) is removed by the next run that leases it. Every name this
/// network creates starts with `dk8s<index>` or `dk<index>`.
public final class PodNetwork: Sendable {
    /// One pod's network namespace.
    public struct Sandbox: Sendable, Hashable {
        /// The namespace name (`ip netns exec <name> ...`).
        public let namespace: String
        public let ip: String
        let hostLink: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The pods' address family: IPv4 (a /24 of 198.18.0.0/15) or IPv6 only (a /64 of the
    /// unique-local fd00:d15c::/32, as an IPv6-only cluster gives its pods).
    public enum Family: Sendable, Hashable {
        case ipv4
        case ipv6
    }

    public static let lockDirectory = "/run/disco-k8s"
    static let subnetCount = 512

    /// Which /24 of 198.18.0.0/15 this network has (0..<512); with IPv6, which /64.
    public let index: Int
    public let family: Family
    public let bridge: String
    /// The host's address on the bridge: the pods' default gateway.
    public let gateway: String
    private let lockDescriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var nextHost = 10
        var nextLink = 0
        var sandboxes: [String: Sandbox] = [:]
        var destroyed = false
        var lockReleased = false
    }

    private init(index: Int, lockDescriptor: Int32, family: Family = .ipv4) {
        self.index = index
        self.family = family
        self.lockDescriptor = lockDescriptor
        bridge = "dk8s\(index)"
        gateway = Self.address(index: index, host: 1, family: family)
    }

    static func address(index: Int, host: Int, family: Family = .ipv4) -> String {
        switch family {
        case .ipv4: "198.\(18 + index / 256).\(index % 256).\(host)"
        case .ipv6: "fd00:d15c:\(String(index, radix: 16))::\(String(host, radix: 16))"
        }
    }

    /// The address `host` (2...254) of this network.
    public func address(host: Int) -> String { Self.address(index: index, host: host, family: family) }

    /// The prefix length of this network's addresses.
    var prefixLength: Int { family == .ipv4 ? 24 : 64 }

    /// `ip addr add` options: no duplicate address detection for IPv6, so an address is usable
    /// at once (nothing else is on this bridge).
    var addressOptions: [String] { family == .ipv4 ? [] : ["nodad"] }

    // MARK: Creating

    /// Leases a free /24, clears what an earlier run may have left there, and creates the bridge.
    /// Networks of runs that ended without cleaning up (a killed test process) are removed first.
    public static func create(family: Family = .ipv4) async throws -> PodNetwork {
        try FileManager.default.createDirectory(atPath: lockDirectory, withIntermediateDirectories: true)
        await removeAbandoned()
        let start = Int(getpid()) % subnetCount
        for offset in 0..<subnetCount {
            let index = (start + offset) % subnetCount
            let fd = open("\(lockDirectory)/subnet-\(index).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Failure(description: "cannot open a lock file in \(lockDirectory): errno \(errno)") }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                close(fd)
                continue
            }
            let network = PodNetwork(index: index, lockDescriptor: fd, family: family)
            await network.removeLeftovers()
            // A route to this /24 that is not our bridge belongs to someone else: skip it.
            let routes = try await Command.check("ip", [family == .ipv4 ? "-4" : "-6", "route", "show", "to", "match", network.address(host: 0)])
            if routes.split(separator: "\n").contains(where: { !$0.contains("dev \(network.bridge)") && !$0.hasPrefix("default") }) {
                close(fd)
                continue
            }
            do {
                try await ip(["link", "add", network.bridge, "type", "bridge"])
                try await ip(["addr", "add", "\(network.gateway)/\(network.prefixLength)", "dev", network.bridge] + network.addressOptions)
                try await ip(["link", "set", network.bridge, "up"])
            } catch {
                await network.destroy()
                throw error
            }
            return network
        }
        throw Failure(description: "every /24 of 198.18.0.0/15 is leased by another run (lock files in \(lockDirectory))")
    }

    /// Creates a namespace with the next unused address (addresses are never reused, so a pod
    /// that comes back always has a new IP), `lo` up and a default route through the host.
    public func addSandbox(label: String) async throws -> Sandbox {
        let (host, link) = try state.withLock { state throws(Failure) -> (Int, Int) in
            guard !state.destroyed else { throw Failure(description: "the pod network was destroyed") }
            guard state.nextHost <= 254 else { throw Failure(description: "the pod network ran out of addresses (245 pods)") }
            defer {
                state.nextHost += 1
                state.nextLink += 1
            }
            return (state.nextHost, state.nextLink)
        }
        let sandbox = Sandbox(namespace: "dk8s\(index)-\(label)-\(link)", ip: address(host: host), hostLink: "dk\(index)v\(link)")
        let peer = "dk\(index)p\(link)"
        state.withLock { $0.sandboxes[sandbox.namespace] = sandbox }
        do {
            try await Self.ip(["netns", "add", sandbox.namespace])
            try await Self.ip(["link", "add", sandbox.hostLink, "type", "veth", "peer", "name", peer])
            try await Self.ip(["link", "set", peer, "netns", sandbox.namespace])
            try await Self.ip(["link", "set", sandbox.hostLink, "master", bridge, "up"])
            let inside = ["-n", sandbox.namespace]
            try await Self.ip(inside + ["link", "set", "lo", "up"])
            try await Self.ip(inside + ["link", "set", peer, "name", "eth0"])
            try await Self.ip(inside + ["addr", "add", "\(sandbox.ip)/\(prefixLength)", "dev", "eth0"] + addressOptions)
            try await Self.ip(inside + ["link", "set", "eth0", "up"])
            try await Self.ip((family == .ipv4 ? ["-4"] : ["-6"]) + inside + ["route", "add", "default", "via", gateway])
        } catch {
            await removeSandbox(sandbox)
            throw error
        }
        return sandbox
    }

    /// Kills whatever still runs in the namespace and deletes it (its veth goes with it) and its
    /// `/etc/netns` files.
    public func removeSandbox(_ sandbox: Sandbox) async {
        await Self.removeNamespace(sandbox.namespace)
        _ = try? await Command.run("ip", ["link", "del", sandbox.hostLink])
        _ = state.withLock { $0.sandboxes.removeValue(forKey: sandbox.namespace) }
    }

    /// Removes every namespace, link and file of this network, then gives the /24 back.
    public func destroy() async {
        let sandboxes = state.withLock { state -> [Sandbox] in
            state.destroyed = true
            return Array(state.sandboxes.values)
        }
        for sandbox in sandboxes { await removeSandbox(sandbox) }
        await removeLeftovers()
        let release = state.withLock { state -> Bool in
            defer { state.lockReleased = true }
            return !state.lockReleased
        }
        if release { close(lockDescriptor) }
    }

    // MARK: Cleaning up

    /// Every `dk8s<index>` bridge whose lock nobody holds belongs to a run that died: lease it
    /// briefly, remove what is on it, and give it back.
    static func removeAbandoned() async {
        guard let links = try? await Command.check("ip", ["-o", "link", "show", "type", "bridge"]) else { return }
        for line in links.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2)
            guard fields.count >= 2 else { continue }
            let name = fields[1].trimmingCharacters(in: .whitespaces)
            guard name.hasPrefix("dk8s"), let index = Int(name.dropFirst(4)), (0..<subnetCount).contains(index) else { continue }
            let fd = open("\(lockDirectory)/subnet-\(index).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                await PodNetwork(index: index, lockDescriptor: fd).destroy()
            } else {
                close(fd)
            }
        }
    }

    /// Namespaces, links and `/etc/netns` entries named for this /24 (from this or an earlier run).
    private func removeLeftovers() async {
        let prefix = "dk8s\(index)-"
        if let listed = try? await Command.check("ip", ["netns", "list"]) {
            for line in listed.split(separator: "\n") {
                let name = String(line.split(separator: " ").first ?? "")
                if name.hasPrefix(prefix) { await Self.removeNamespace(name) }
            }
        }
        if let links = try? await Command.check("ip", ["-o", "link", "show"]) {
            for line in links.split(separator: "\n") {
                let fields = line.split(separator: ":", maxSplits: 2)
                guard fields.count >= 2 else { continue }
                let name = String(fields[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first ?? "")
                if name == bridge || name.hasPrefix("dk\(index)v") || name.hasPrefix("dk\(index)p") {
                    _ = try? await Command.run("ip", ["link", "del", name])
                }
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/etc/netns") {
            for entry in entries where entry.hasPrefix(prefix) { try? FileManager.default.removeItem(atPath: "/etc/netns/\(entry)") }
        }
    }

    static func removeNamespace(_ name: String) async {
        if let pids = try? await Command.check("ip", ["netns", "pids", name]) {
            for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
        }
        _ = try? await Command.run("ip", ["netns", "del", name])
        try? FileManager.default.removeItem(atPath: "/etc/netns/\(name)")
    }

    @discardableResult
    static func ip(_ arguments: [String]) async throws -> String {
        try await Command.check("ip", arguments)
    }

    // MARK: Availability

    /// Why pod networks cannot be made here (not root, no `ip`, namespaces refused), or nil.
    /// Creates and deletes one namespace to find out.
    public static func unavailableReason() async -> String? {
        guard getuid() == 0 else { return "network namespaces need root (uid \(getuid()))" }
        guard Command.which("ip") != nil else { return "iproute2's ip is not installed" }
        let probe = "dk8s-probe-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            try await ip(["netns", "add", probe])
            _ = try? await Command.run("ip", ["netns", "del", probe])
        } catch {
            return "cannot create a network namespace: \(error)"
        }
        return nil
    }
}
