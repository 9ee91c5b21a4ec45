import DiscoCore
import DiscoTestKit
import Testing

@Suite struct ManifestNodeTests {
    func failure(_ json: String) -> String? {
        do {
            _ = try StatefulSetSpec(KubeObject(try JSONValue.parse(json)))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        (#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"replicas":"3","template":{"spec":{"containers":[{"name":"c"}]}}}}"#,
         "StatefulSet db: spec.replicas: expected an integer, got a string"),
        (#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"template":{"spec":{"containers":[{"name":"c","ports":[{"containerPort":70000}]}]}}}}"#,
         "StatefulSet db: spec.template.spec.containers[0].ports[0].containerPort: required, 1...65535"),
        (#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"template":{"spec":{"containers":[]}}}}"#,
         "StatefulSet db: spec.template.spec.containers: a pod needs at least one container"),
        (#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"template":{"spec":{"containers":[{"name":"c","readinessProbe":{"httpGet":{"path":"/"}}}]}}}}"#,
         "StatefulSet db: spec.template.spec.containers[0].readinessProbe.httpGet.port: required"),
        (#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{}}"#, "object: metadata.name: required"),
    ])
    func errorsNameTheObjectAndTheFieldPath(json: String, message: String) {
        #expect(failure(json) == message)
    }

    @Test(arguments: [(#""256Mi""#, 256 << 20), (#""1Gi""#, 1 << 30), (#""1.5Gi""#, 3 << 29), (#""500M""#, 500_000_000),
                      ("1048576", 1 << 20), (#""1e9""#, 1_000_000_000), (#""lots""#, nil)] as [(String, Int?)])
    func memoryLimitsAreReadAsBytes(quantity: String, bytes: Int?) throws {
        let json = #"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"db"},"spec":{"template":{"spec":{"containers":"#
            + #"[{"name":"c","resources":{"limits":{"memory":"# + quantity + "}}}]}}}}"
        #expect(try StatefulSetSpec(KubeObject(try JSONValue.parse(json))).template.containers[0].memoryLimit == bytes)
    }

    @Test func editingSetsAndRemovesNestedFields() throws {
        let object = try KubeObject(try JSONValue.parse(#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"ports":[{"port":1}]}}"#))
        let manifests = KubeManifests(objects: [object])
        let edited = try manifests.setting("spec.ports.0.port", to: 2, in: "Service", named: "s")
            .setting("spec.publishNotReadyAddresses", to: true, in: "Service", named: "s")
        let service = try edited.service("s")
        #expect(service.ports.map(\.port) == [2] && service.publishNotReadyAddresses)
        #expect(try manifests.service("s").ports.map(\.port) == [1], "the original is unchanged")
        #expect(throws: ManifestError.self) { try manifests.setting("spec.ports.3.port", to: 2, in: "Service", named: "s") }
        #expect(throws: ManifestError.self) { try manifests.setting("spec", to: 2, in: "Service", named: "nope") }
    }
}
