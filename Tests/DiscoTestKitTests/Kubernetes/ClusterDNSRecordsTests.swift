import DiscoCore
import DiscoTestKit
import Foundation
import Testing

@Suite struct ClusterDNSRecordsTests {
    static func service(_ json: String) throws -> ServiceSpec {
        try ServiceSpec(KubeObject(try JSONValue.parse(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"db-internal"},"spec":"# + json + "}")))
    }

    static let headless = #"{"clusterIP":"None","selector":{"app":"db"},"ports":[{"name":"http","port":4001,"targetPort":"http"},{"port":9999}]}"#

    static func pod(_ index: Int, ready: Bool = true, terminating: Bool = false, app: String = "db") -> ClusterDNSRecords.Pod {
        ClusterDNSRecords.Pod(name: "db-\(index)", namespace: "default", ip: "10.0.0.\(10 + index)", labels: ["app": app],
                              hostname: "db-\(index)", subdomain: "db-internal", ready: ready, terminating: terminating,
                              namedPorts: ["http": 4001])
    }

    func records(_ service: ServiceSpec, _ pods: [ClusterDNSRecords.Pod]) -> DnsmasqFixture.Records {
        ClusterDNSRecords.records(services: [service], pods: pods, defaultNamespace: "default", zone: "cluster.local")
    }

    @Test func headlessServiceGetsARecordsAndSRVForNamedPortsOnly() throws {
        let records = records(try Self.service(Self.headless), [Self.pod(0), Self.pod(1), Self.pod(2, app: "other")])
        let service = "db-internal.default.svc.cluster.local"
        #expect(records.hosts.filter { $0.name == service }.map(\.address) == ["10.0.0.10", "10.0.0.11"])
        #expect(records.hosts.contains { $0.name == "db-0.\(service)" && $0.address == "10.0.0.10" })
        #expect(records.srv.count == 2, "one SRV per endpoint for the named port; the unnamed port has none")
        #expect(records.srv.allSatisfy { $0.name == "_http._tcp.\(service)" && $0.port == 4001 && $0.priority == 0 && $0.weight == 50 })
        #expect(Set(records.srv.map(\.target)) == ["db-0.\(service)", "db-1.\(service)"])
        #expect(records.localDomains == ["cluster.local"])
    }

    @Test func notReadyPodsOnlyWithPublishNotReadyAddresses() throws {
        let pods = [Self.pod(0, ready: false), Self.pod(1), Self.pod(2, terminating: true)]
        let strict = records(try Self.service(Self.headless), pods)
        #expect(strict.hosts.filter { $0.name.hasPrefix("db-internal.") }.map(\.address) == ["10.0.0.11"])
        let publishing = records(try Self.service(Self.headless.replacingOccurrences(of: #""clusterIP":"None","#,
                                                                                     with: #""clusterIP":"None","publishNotReadyAddresses":true,"#)), pods)
        #expect(publishing.hosts.filter { $0.name.hasPrefix("db-internal.") }.count == 3)
        #expect(publishing.srv.count == 3 && publishing.srv.allSatisfy { $0.weight == 33 })
    }

    @Test func noEndpointsMeansNoRecordsSoTheNameIsNXDOMAIN() throws {
        let records = records(try Self.service(Self.headless), [Self.pod(0, ready: false)])
        #expect(records.hosts.isEmpty && records.srv.isEmpty)
    }

    @Test func podsWithoutMatchingSubdomainAreNamedByTheirDashedIP() throws {
        var pod = Self.pod(0)
        pod.subdomain = "another-service"
        let records = records(try Self.service(Self.headless), [pod])
        #expect(records.srv.first?.target == "10-0-0-10.db-internal.default.svc.cluster.local")
        #expect(records.hosts.contains { $0.name == "10-0-0-10.db-internal.default.svc.cluster.local" })
    }

    @Test func servicesWithAClusterIPAreNotServed() throws {
        let records = records(try Self.service(#"{"selector":{"app":"db"},"ports":[{"name":"http","port":4001}]}"#), [Self.pod(0)])
        #expect(records.hosts.isEmpty && records.srv.isEmpty)
    }
}
