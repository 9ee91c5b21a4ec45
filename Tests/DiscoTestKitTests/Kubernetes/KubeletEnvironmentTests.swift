import DiscoCore
import DiscoTestKit
import Testing

@Suite struct KubeletEnvironmentTests {
    let values = ["POD_NAME": "disco-0", "POD_IP": "10.1.2.3", "EMPTY": ""]
    func expand(_ text: String) -> String { KubeletExpansion.expand(text) { values[$0] } }

    @Test(arguments: [
        ("-node-id=$(POD_NAME)", "-node-id=disco-0"),
        ("$(POD_IP):4001", "10.1.2.3:4001"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),
        ("$$(POD_NAME)", "$(POD_NAME)"),
        ("cost $$5", "cost $5"),
        ("$POD_NAME", "$POD_NAME"),
        ("$(POD_NAME", "$(POD_NAME"),
        ("end$", "end$"),
        ("$(EMPTY)x", "x"),
        ("$(POD_NAME)$(POD_IP)", "disco-010.1.2.3"),
        (#"{"name":"svc.$(POD_NAME).local"}"#, #"{"name":"svc.disco-0.local"}"#),
    ])
    func expandsLikeTheKubelet(input: String, expected: String) {
        #expect(expand(input) == expected)
    }

    static func container(_ json: String) throws -> ContainerSpec {
        try ContainerSpec(ManifestNode(try JSONValue.parse(json), location: "Pod p: spec.containers[0]"))
    }

    let pod = PodIdentity(name: "disco-1", namespace: "prod", uid: "u-1", ip: "10.0.0.7", hostIP: "10.0.0.1",
                          labels: ["apps.kubernetes.io/pod-index": "1"])

    @Test func environmentFillsTheDownwardAPIAndRefersToEarlierVariables() throws {
        let container = try Self.container("""
            {"name":"c","image":"disco","env":[
              {"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
              {"name":"NS","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}},
              {"name":"INDEX","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['apps.kubernetes.io/pod-index']"}}},
              {"name":"IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}},
              {"name":"FQDN","value":"$(POD_NAME).svc.$(NS)"},
              {"name":"LATER","value":"$(DEFINED_AFTER)"},
              {"name":"DEFINED_AFTER","value":"x"}]}
            """)
        let environment = try KubeletExpansion.environment(of: container, pod: pod, base: [("PATH", "/bin")])
        let map = Dictionary(environment.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        #expect(environment.first?.name == "PATH")
        #expect(map["POD_NAME"] == "disco-1" && map["NS"] == "prod" && map["INDEX"] == "1" && map["IP"] == "10.0.0.7")
        #expect(map["FQDN"] == "disco-1.svc.prod")
        #expect(map["LATER"] == "$(DEFINED_AFTER)", "a variable defined later is not seen, as in Kubernetes")
    }

    @Test func unsupportedSourcesAndFieldsAreErrorsThatNameTheVariable() throws {
        let secret = try Self.container(#"{"name":"c","env":[{"name":"KEY","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]}"#)
        #expect(throws: ManifestError.self) { try KubeletExpansion.environment(of: secret, pod: pod, base: []) }
        let field = try Self.container(#"{"name":"c","env":[{"name":"X","valueFrom":{"fieldRef":{"fieldPath":"spec.nope"}}}]}"#)
        do {
            _ = try KubeletExpansion.environment(of: field, pod: pod, base: [])
            Issue.record("an unknown fieldPath was accepted")
        } catch {
            #expect(error.description.contains("env X: fieldRef spec.nope"))
        }
    }

    @Test func commandLineUsesTheEntrypointOnlyWithoutACommand() throws {
        let withCommand = try Self.container(#"{"name":"c","command":["discod"],"args":["-node-id=$(HOSTNAME)","data"]}"#)
        let environment: [(name: String, value: String)] = [("HOSTNAME", "disco-1")]
        #expect(try KubeletExpansion.commandLine(of: withCommand, environment: environment, entrypoint: ["other"])
            == ["discod", "-node-id=disco-1", "data"])
        let argsOnly = try Self.container(#"{"name":"c","args":["-h"]}"#)
        #expect(try KubeletExpansion.commandLine(of: argsOnly, environment: [], entrypoint: ["discod"]) == ["discod", "-h"])
        #expect(throws: ManifestError.self) { try KubeletExpansion.commandLine(of: argsOnly, environment: [], entrypoint: []) }
    }

    @Test(arguments: [
        ("disco", "disco"), ("disco:latest", "disco"), ("registry.example:5000/team/disco:1.2", "registry.example:5000/team/disco"),
        ("registry.example:5000/disco", "registry.example:5000/disco"), ("disco@sha256:abc", "disco"), ("disco:1@sha256:abc", "disco"),
    ])
    func imageBaseNames(reference: String, base: String) {
        #expect(HarnessImage.baseName(of: reference) == base)
    }
}
