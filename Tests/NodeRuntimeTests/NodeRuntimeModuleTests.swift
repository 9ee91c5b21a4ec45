import NodeRuntime
import Testing

@Suite struct NodeRuntimeModuleTests {
    @Test func versionIsSemantic() {
        #expect(NodeRuntimeModule.version.split(separator: ".").count == 3)
    }
}
