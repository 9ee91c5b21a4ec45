// MARK: - APIKeyMethods

/// Which methods need an API key (`-api-key-methods`, `api_keys.methods` in `-proxy-config`).
///
/// The default, ``writes``, is every method except GET, HEAD and OPTIONS: the default routes
/// send those to the local upstream and every other method to the writer, so no method reaches
/// the writer without a key, whatever it is called (`MERGE`, `PROPPATCH`, one an upstream
/// invented). A list names exactly the methods that need one.
public enum APIKeyMethods: Hashable, Sendable, CustomStringConvertible {
    /// Every method except these upper-case tokens, each compared byte for byte as a route
    /// compares a method: a `get` is not exempt, since the default routes send it to the writer.
    case allExcept(Set<String>)
    /// Exactly these upper-case tokens, each compared ignoring ASCII case: many upstreams
    /// upper-case the method they are given, so a `post` would be served as the `POST` listed.
    case only(Set<String>)

    /// `writes`: every method except GET, HEAD and OPTIONS, which the default routes serve here.
    public static let writes = APIKeyMethods.allExcept(ProxyRoute.readMethods)
    /// The name of ``writes`` in `-api-key-methods` and in `-proxy-config`.
    public static let writesName = "writes"

    // MARK: Deciding

    /// Whether a request with `method` needs a key. `HEAD` needs one when `GET` does (an
    /// upstream answers it with its `GET` handler).
    public func requiresKey(method: String) -> Bool {
        switch self {
        case .allExcept(let exempt):
            return !Self.contains(exempt, method) || method == "HEAD" && !Self.contains(exempt, "GET")
        case .only(let listed):
            if listed.contains(method) || method == "HEAD" && listed.contains("GET") { return true }
            // Only a method with a lower-case letter can differ from its upper case (most
            // requests do not: no string is made for them).
            guard method.utf8.contains(where: { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") }) else { return false }
            let upper = method.uppercased()
            return listed.contains(upper) || upper == "HEAD" && listed.contains("GET")
        }
    }

    /// Whether `methods` holds `method`, byte for byte (not as Unicode text, which would equate
    /// canonically equivalent spellings).
    private static func contains(_ methods: Set<String>, _ method: String) -> Bool {
        methods.contains { $0.utf8.elementsEqual(method.utf8) }
    }

    // MARK: Text

    /// As `-validate` prints it: `writes (every method except GET,HEAD,OPTIONS)`, or the list.
    public var description: String {
        switch self {
        case .allExcept(let exempt):
            let text = "every method except \(exempt.sorted().joined(separator: ","))"
            return self == .writes ? "\(Self.writesName) (\(text))" : text
        case .only(let listed):
            return listed.sorted().joined(separator: ",")
        }
    }

    /// The methods of `-api-key-methods` (split at commas) or of `api_keys.methods`: `writes`
    /// alone (in any case), or HTTP method tokens, upper-cased; a method given twice counts once.
    public static func parse(_ items: [String]) -> Result<APIKeyMethods, SidecarSyntaxError> {
        let example = "give \(writesName) (every method except GET, HEAD and OPTIONS) or methods such as POST,PUT,DELETE"
        guard !items.isEmpty else { return .failure(SidecarSyntaxError("no methods: \(example)")) }
        for item in items where item.isEmpty || !item.utf8.allSatisfy(HTTPToken.isTokenByte) {
            return .failure(SidecarSyntaxError("\(item.debugDescription) is not an HTTP method; \(example)"))
        }
        let upper = items.map { $0.uppercased() }
        let writes = writesName.uppercased()
        if upper.contains(writes) {
            guard upper.allSatisfy({ $0 == writes }) else {
                return .failure(SidecarSyntaxError("\(writesName) stands alone: it already covers every method except GET, HEAD "
                                                   + "and OPTIONS; or list only methods, such as POST,PUT,DELETE"))
            }
            return .success(.writes)
        }
        return .success(.only(Set(upper)))
    }
}
