import DiscoCore
import DiscoTestKit
import Foundation
import Testing

/// Secret and ConfigMap volumes as the harness projects them, and HTTPS probes as it reads them.
@Suite struct ObjectVolumeTests {
    static func template(volumes: String, probe: String = "") throws -> PodTemplate {
        let json = #"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s"},"spec":{"template":{"spec":{"#
            + #""containers":[{"name":"c","ports":[{"name":"p","containerPort":8443}]\#(probe)}],"volumes":\#(volumes)}}}}"#
        return try StatefulSetSpec(KubeObject(try JSONValue.parse(json))).template
    }

    static let manifests = """
        [{"apiVersion":"v1","kind":"Secret","metadata":{"name":"tls"},"data":{"tls.crt":"Y2VydA=="},"stringData":{"tls.key":"key"}},
         {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"conf"},"data":{"a.json":"{}","b.json":"[]"}}]
        """

    @Test func secretsAndConfigMapsBecomeFilesWithTheirModes() throws {
        let template = try Self.template(volumes: #"""
            [{"name":"t","secret":{"secretName":"tls","defaultMode":288}},
             {"name":"c","configMap":{"name":"conf","items":[{"key":"b.json","path":"sub/b.json","mode":256}]}},
             {"name":"e","emptyDir":{}}]
            """#)
        #expect(template.objectVolumes.count == 2 && template.volumes["e"] == "emptyDir")
        let data = try ObjectData(try KubeManifests(json: try JSONValue.parse(Self.manifests)))
        let secret = try #require(template.objectVolumes["t"])
        let files = try secret.files(from: data.data(for: secret))
        #expect(files.map(\.path) == ["tls.crt", "tls.key"])
        #expect(files.map { String(decoding: $0.bytes, as: UTF8.self) } == ["cert", "key"] && files.allSatisfy { $0.mode == 0o440 })
        let configMap = try #require(template.objectVolumes["c"])
        let projected = try configMap.files(from: data.data(for: configMap))
        #expect(projected.map(\.path) == ["sub/b.json"] && projected.first?.mode == 0o400)

        let directory = NSTemporaryDirectory() + "object-volume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try data.materialize(configMap, into: directory, group: nil)
        #expect(FileManager.default.contents(atPath: directory + "/sub/b.json") == Data("[]".utf8))
        #expect(FileManager.default.fileExists(atPath: directory + "/a.json") == false, "items narrows the keys")
    }

    @Test func aGivenSecretWinsAndAMissingOneIsNamed() throws {
        let template = try Self.template(volumes: #"[{"name":"t","secret":{"secretName":"tls"}},{"name":"k","secret":{"secretName":"keys"}}]"#)
        let manifests = try KubeManifests(json: try JSONValue.parse(Self.manifests))
        let data = try ObjectData(manifests, given: ObjectData(secrets: ["tls": ["tls.crt": Array("given".utf8)]]))
        let tls = try #require(template.objectVolumes["t"])
        #expect(try tls.files(from: data.data(for: tls)).map { String(decoding: $0.bytes, as: UTF8.self) } == ["given"])
        #expect(try tls.files(from: data.data(for: tls)).first?.mode == 0o644, "the kubelet's default mode")
        let keys = try #require(template.objectVolumes["k"])
        #expect(throws: ManifestError.self) { try keys.files(from: data.data(for: keys)) }
        do {
            _ = try keys.files(from: data.data(for: keys))
        } catch {
            #expect(error.description.contains("Secret keys does not exist"))
        }
    }

    @Test func badObjectDataIsNamed() throws {
        let manifests = try KubeManifests(json: try JSONValue.parse(#"[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"%%%"}}]"#))
        #expect(throws: ManifestError.self) { try ObjectData(manifests) }
    }

    @Test(arguments: [("", ProbeSpec.Scheme.http), (#","scheme":"HTTPS""#, .https)])
    func probeSchemes(scheme: String, expected: ProbeSpec.Scheme) throws {
        let template = try Self.template(volumes: "[]", probe: #","readinessProbe":{"httpGet":{"port":"p"\#(scheme)}}"#)
        #expect(template.containers[0].readinessProbe?.scheme == expected)
    }

    @Test func anUnknownProbeSchemeIsAnError() {
        #expect(throws: ManifestError.self) {
            try Self.template(volumes: "[]", probe: #","readinessProbe":{"httpGet":{"port":"p","scheme":"TCP"}}"#)
        }
    }
}
