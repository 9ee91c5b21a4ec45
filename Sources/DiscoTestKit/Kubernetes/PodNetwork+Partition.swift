// MARK: - Cutting pods off from each other

extension PodNetwork {
    /// Cuts the network between pods `a` and `b`, both ways: a blackhole route for the other's
    /// address in each namespace, so every packet between them (TCP, UDP) is dropped while both
    /// still reach the host and the host reaches both. ``heal(_:_:)`` removes the routes.
    public func partition(_ a: Sandbox, _ b: Sandbox) async throws {
        try await Self.ip(["-n", a.namespace, "route", "add", "blackhole", "\(b.ip)/\(hostPrefix)"])
        try await Self.ip(["-n", b.namespace, "route", "add", "blackhole", "\(a.ip)/\(hostPrefix)"])
    }

    /// The prefix length of one address of this network's family.
    private var hostPrefix: Int { family == .ipv4 ? 32 : 128 }

    /// Undoes ``partition(_:_:)``.
    public func heal(_ a: Sandbox, _ b: Sandbox) async throws {
        try await Self.ip(["-n", a.namespace, "route", "del", "blackhole", "\(b.ip)/\(hostPrefix)"])
        try await Self.ip(["-n", b.namespace, "route", "del", "blackhole", "\(a.ip)/\(hostPrefix)"])
    }

    /// `ip netns exec NAMESPACE`: the launcher that runs a program inside `sandbox`.
    public static func launcher(in sandbox: Sandbox) throws -> [String] {
        guard let ip = Command.which("ip") else { throw Failure(description: "iproute2's ip is not installed") }
        return [ip, "netns", "exec", sandbox.namespace]
    }
}
