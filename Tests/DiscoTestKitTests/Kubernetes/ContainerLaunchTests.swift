import DiscoCore
import DiscoTestKit
import Testing

@Suite struct ContainerLaunchTests {
    static func template(podSecurity: String, container: String) throws -> PodTemplate {
        try PodTemplate(ManifestNode(try JSONValue.parse("""
            {"metadata":{"labels":{"app":"db"}},"spec":{"securityContext":\(podSecurity),"containers":[\(container)]}}
            """), location: "Pod p:"))
    }

    let identity = PodIdentity(name: "db-0", namespace: "default", uid: "u", ip: "10.0.0.10", hostIP: "10.0.0.1")
    let image = HarnessImage(name: "db", entrypoint: ["dbd"], programDirectories: ["/opt/db/bin"])

    @Test func runsTheProgramAsTheManifestsUserWithItsMountsAndAReadOnlyRoot() throws {
        let template = try Self.template(podSecurity: #"{"runAsUser":1000,"runAsGroup":2000,"fsGroup":3000}"#, container: """
            {"name":"db","image":"db:1","args":["--dir=/data","--name=$(HOSTNAME)"],
             "securityContext":{"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},
             "volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"conf","mountPath":"/etc/db","readOnly":true}]}
            """)
        let launch = try ContainerLaunch(container: template.containers[0], pod: template, identity: identity, namespace: "ns1",
                                         image: image, volumes: ["data": "/tmp/claims/data-db-0", "conf": "/tmp/conf it's"])
        #expect(launch.commandLine == ["dbd", "--dir=/data", "--name=db-0"])
        #expect(Array(launch.arguments.prefix(5)) == ["netns", "exec", "ns1", "/bin/sh", "-c"])
        let script = launch.arguments[5]
        #expect(script.contains("mount --bind '/tmp/claims/data-db-0' '/data'"))
        #expect(script.contains(#"mount --bind '/tmp/conf it'\''s' '/etc/db'"#))
        #expect(script.contains("mount -o remount,bind,ro '/etc/db'"))
        #expect(script.contains("mount -o remount,bind,ro /"))
        #expect(script.hasSuffix(#"exec "$@""#))
        let exec = Array(launch.arguments.dropFirst(7))
        #expect(Array(exec.prefix(8)) == ["setpriv", "--reuid=1000", "--regid=2000", "--groups=3000", "--no-new-privs",
                                          "--inh-caps=-all", "--bounding-set=-all", "--"])
        #expect(exec.contains("PATH=/opt/db/bin:\(HarnessImage.defaultPath)") && exec.contains("HOSTNAME=db-0"))
        #expect(Array(exec.suffix(3)) == ["dbd", "--dir=/data", "--name=db-0"])
        #expect(Array(launch.arguments(running: ["dbctl", "status"]).suffix(2)) == ["dbctl", "status"])
    }

    @Test func rootContainersRunWithoutSetprivAndWritableRoot() throws {
        let template = try Self.template(podSecurity: "{}", container: #"{"name":"db","image":"db"}"#)
        let launch = try ContainerLaunch(container: template.containers[0], pod: template, identity: identity, namespace: "ns1",
                                         image: image, volumes: [:])
        #expect(!launch.arguments.contains("setpriv"))
        #expect(!launch.arguments[5].contains("remount"))
    }

    @Test func refusesWhatItCannotDoFaithfully() throws {
        let nonRoot = try Self.template(podSecurity: #"{"runAsNonRoot":true}"#, container: #"{"name":"db","image":"db"}"#)
        #expect(throws: ManifestError.self) {
            try ContainerLaunch(container: nonRoot.containers[0], pod: nonRoot, identity: identity, namespace: "n", image: image, volumes: [:])
        }
        let missingVolume = try Self.template(podSecurity: "{}", container: #"{"name":"db","volumeMounts":[{"name":"x","mountPath":"/x"}]}"#)
        #expect(throws: ManifestError.self) {
            try ContainerLaunch(container: missingVolume.containers[0], pod: missingVolume, identity: identity, namespace: "n", image: image, volumes: [:])
        }
    }
}
