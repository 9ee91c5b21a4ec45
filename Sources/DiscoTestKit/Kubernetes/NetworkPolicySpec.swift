import DiscoCore

// MARK: - NetworkPolicySpec

/// The ingress part of a NetworkPolicy: which pods it selects, and who may reach which ports.
/// Only what the project's manifests use is read: `podSelector.matchLabels`, and ingress rules
/// with optional `from` (pod selectors with `matchLabels`) and `ports` (numbers and protocols).
public struct NetworkPolicySpec: Sendable {
    /// Who may reach a port, from the narrowest to the widest.
    public enum Access: Int, Sendable, Comparable, CustomStringConvertible {
        /// No rule allows it.
        case nobody
        /// Only pods whose labels include these pods' own labels.
        case ownPods
        /// Some other pods (a selector the pods themselves do not match).
        case otherPods
        /// Anyone: a rule without `from`.
        case anyone

        public static func < (lhs: Access, rhs: Access) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .nobody: "nobody"
            case .ownPods: "the StatefulSet's own pods"
            case .otherPods: "other pods"
            case .anyone: "anyone"
            }
        }
    }

    struct Rule: Sendable {
        /// nil: from anywhere; otherwise the `matchLabels` of each peer.
        var from: [[String: String]]?
        /// nil: every port; otherwise (port, protocol).
        var ports: [(port: UInt16, proto: String)]?
    }

    public let name: String
    public let podSelector: [String: String]
    public let restrictsIngress: Bool
    let rules: [Rule]

    public init(_ object: KubeObject) throws(ManifestError) {
        guard object.kind == "NetworkPolicy" else { throw ManifestError("\(object.kind) \(object.name) is not a NetworkPolicy") }
        name = object.name
        guard let spec = try object.root.object("spec") else { throw object.root.error("spec", "required") }
        podSelector = try spec.object("podSelector")?.stringMap("matchLabels") ?? [:]
        restrictsIngress = try spec.strings("policyTypes")?.contains("Ingress") ?? true
        var rules: [Rule] = []
        for item in try spec.array("ingress") {
            var from: [[String: String]]?
            if item.child("from") != nil {
                var peers: [[String: String]] = []
                for peer in try item.array("from") {
                    guard let selector = try peer.object("podSelector"), peer.child("ipBlock") == nil,
                          peer.child("namespaceSelector") == nil else {
                        throw peer.error(nil, "only podSelector peers are read here")
                    }
                    peers.append(try selector.stringMap("matchLabels"))
                }
                from = peers
            }
            var ports: [(UInt16, String)]?
            if item.child("ports") != nil {
                var list: [(UInt16, String)] = []
                for port in try item.array("ports") {
                    guard let number = try port.int("port"), (1...65535).contains(number) else { throw port.error("port", "a number, 1...65535") }
                    list.append((UInt16(number), try port.string("protocol") ?? "TCP"))
                }
                ports = list
            }
            rules.append(Rule(from: from, ports: ports))
        }
        self.rules = rules
    }

    /// Whether the policy applies to pods with `labels`.
    public func selects(_ labels: [String: String]) -> Bool {
        podSelector.allSatisfy { labels[$0.key] == $0.value }
    }

    /// Who may reach `port`/`proto` of pods with `labels` under this policy.
    public func access(port: UInt16, proto: String, of labels: [String: String]) -> Access {
        var widest = Access.nobody
        for rule in rules where rule.ports?.contains(where: { $0.port == port && $0.proto == proto }) ?? true {
            guard let from = rule.from, !from.isEmpty else { return .anyone }
            for selector in from {
                let own = !selector.isEmpty && selector.allSatisfy { labels[$0.key] == $0.value }
                widest = max(widest, own ? .ownPods : .otherPods)
            }
        }
        return widest
    }
}

extension KubeManifests {
    /// Every NetworkPolicy.
    public func networkPolicies() throws(ManifestError) -> [NetworkPolicySpec] {
        var out: [NetworkPolicySpec] = []
        for object in objects(ofKind: "NetworkPolicy") { out.append(try NetworkPolicySpec(object)) }
        return out
    }

    /// Who may reach `port`/`proto` of pods with `labels`: anyone when no policy restricting
    /// ingress selects them, otherwise the widest access any selecting policy gives.
    public func ingressAccess(port: UInt16, proto: String, of labels: [String: String]) throws(ManifestError) -> NetworkPolicySpec.Access {
        let selecting = try networkPolicies().filter { $0.restrictsIngress && $0.selects(labels) }
        guard !selecting.isEmpty else { return .anyone }
        return selecting.map { $0.access(port: port, proto: proto, of: labels) }.max() ?? .nobody
    }
}
