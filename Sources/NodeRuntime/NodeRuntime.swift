/// NodeRuntime: the Disco node. It composes consensus (embedded Raft), membership (SWIM),
/// cluster formation (bootstrap engine, KV registration) and the HTTP API behind protocols, so
/// each can be replaced without touching the rest.
public enum NodeRuntimeModule {
    /// The version reported by `/status` and `discod -version`.
    public static let version = "0.1.0"
}
