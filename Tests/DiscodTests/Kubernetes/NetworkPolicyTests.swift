import DiscoCore
import DiscoTestKit
import Testing

/// Each kustomization's NetworkPolicy keeps the node's internode port (Raft and SWIM) to the
/// StatefulSet's own pods, and behind a sidecar the node's API too, while every port the client
/// Services target stays open to clients.
@Suite struct NetworkPolicyTests {
    @Test(arguments: [("k8s/disco", "disco", false), ("k8s/sidecar", "app", true), ("k8s/bigchaindb-gateway", "bdb", true)])
    func theNodesPortsAreKeptToTheClusterAndTheServicesStayOpen(directory: String, name: String, sidecar: Bool) async throws {
        let manifests = try await ManifestCheckTests.rendered(directory)
        let template = try manifests.statefulSet(name).template
        let labels = template.labels
        for proto in ["TCP", "UDP"] {
            let access = try manifests.ingressAccess(port: 4002, proto: proto, of: labels)
            #expect(access == .ownPods, "\(directory): the internode port 4002/\(proto) is open to \(access)")
        }
        let api = try manifests.ingressAccess(port: 4001, proto: "TCP", of: labels)
        #expect(api == (sidecar ? .ownPods : .anyone), "\(directory): the node's API is open to \(api)")
        var checked = 0
        for service in try manifests.services() where !service.headless && service.selects(labels) {
            for port in service.ports {
                let target: UInt16? = switch port.targetPort {
                case .number(let number): number
                case .name(let portName): template.allContainers.lazy.compactMap { $0.port(.name(portName), proto: port.proto) }.first?.containerPort
                }
                let number = try #require(target, "\(directory): Service \(service.name) targets \(port.targetPort), which no container declares")
                let access = try manifests.ingressAccess(port: number, proto: port.proto, of: labels)
                #expect(access == .anyone, "\(directory): Service \(service.name) port \(port.port) → \(number)/\(port.proto) is open to \(access) only")
                checked += 1
            }
        }
        #expect(checked > 0, "\(directory): no client Service selects the pods")
    }
}
