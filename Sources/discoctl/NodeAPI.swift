import DiscoAuth
import DiscoCLI
import DiscoCore
import DiscoSystem
import DiscoNet

// MARK: - Talking to a node's HTTP API

/// One answer of a node: status, body and the body as JSON when it parses.
struct NodeAnswer: Sendable {
    let status: Int
    let body: [UInt8]
    /// The URL that answered (after redirects).
    let url: String

    var text: String { String(decoding: body, as: UTF8.self) }
    var json: JSONValue? { try? JSONValue.parse(body) }

    /// The node's own `{"error":"..."}` message, when it gives a non-empty one.
    var nodeError: String? {
        guard let message = json?["error"]?.stringValue, !message.isEmpty else { return nil }
        return message
    }

    /// The node's `{"error":"..."}` message, or the body text, for failure messages.
    var errorMessage: String {
        var message = json?["error"]?.stringValue ?? text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if message.isEmpty { message = "HTTP \(status) with an empty body" }
        switch status {
        case 401: message += " (give -user and -password, or set \(ClientCredentialFlags.userVariable) and \(ClientCredentialFlags.passwordVariable))"
        case 403: message += " (the user has too few permissions for this)"
        default: break
        }
        return message
    }
}

/// Why a request to a node failed before it answered, phrased for an operator.
struct NodeUnreachable: Error, CustomStringConvertible {
    let url: String
    /// The node's `host:port`, to tell its own failures from those of a leader it redirected to.
    var authority: String? = nil
    let underlying: any Error

    var description: String {
        var reason = "\(underlying)"
        var hint = "check that discod is running there and that -addr names its -http-addr"
        if let error = underlying as? HTTPClientError {
            // The detail already names the host; keep what failed and why.
            let detail = error.detail.hasPrefix(error.host + ": ") ? String(error.detail.dropFirst(error.host.count + 2)) : error.detail
            reason = detail.isEmpty ? "\(error.code)" : error.code == .connectFailed ? detail : "\(error.code): \(detail)"
            switch error.code {
            case _ where detail.contains("requires a certificate this side did not present"):
                hint = "the node requires a client certificate (it runs with -http-verify-client): give -cert and -key, "
                    + "a certificate signed by a CA the node trusts (its -http-ca-cert)"
            case .connectFailed where detail.contains("cannot start the shared event loops") || detail.contains("(errno 24)"):
                hint = "discoctl has no file descriptor (or memory) to spare: raise its limit (ulimit -n)"
            case .connectFailed where detail.contains("TLS"):
                hint = "check -ca-cert (the CA that signed the node's -http-cert), and -cert and -key when the node "
                    + "verifies clients (-http-verify-client)"
            case .timeout:
                hint = "the node accepted the connection but did not answer in time; raise -timeout or check the node's log"
            case .malformedResponse:
                hint = "something answered that is not a discod HTTP API; check -addr"
            case .tooManyRedirects:
                hint = "the nodes keep redirecting (leadership is changing?); retry in a moment"
            case .insecureRedirect:
                // The node answered; where it sent the request is what is wrong.
                return "the node at \(url) answered with a redirect discoctl does not follow: \(detail); nothing was sent there. "
                    + "Every node of the cluster must serve its API over HTTPS (-http-cert, -http-key) and advertise an https:// "
                    + "api_addr (discoctl leader shows the leader's)"
            default:
                break
            }
        }
        if let error = underlying as? HTTPClientError, let authority, error.host != authority, error.code != .tooManyRedirects {
            // A redirect to the leader: the node at -addr answered; the leader did not.
            if error.code == .timeout {
                hint = "the leader accepted the connection but did not answer in time; raise -timeout or check the leader's log"
            } else if error.code == .connectFailed || error.code == .connectTimeout, !reason.contains("TLS") {
                hint = "check that the leader's discod is running and that its api_addr (discoctl leader) can be reached from here"
            }
            return "the node at \(url) sent the request on to the leader at \(error.host), which cannot be reached: \(reason); \(hint)"
        }
        return "cannot reach the node at \(url): \(reason); \(hint)"
    }
}

/// Requests against the node named by `-addr`.
struct NodeAPI: Sendable {
    let node: PeerAddress
    let client: HTTPClient
    let timeout: Duration
    let credentials: BasicCredentials?

    init(_ context: CommandContext) {
        node = context.node
        client = context.client
        timeout = context.timeout
        credentials = context.credentials
    }

    /// At most this many 307 redirects to the leader are followed.
    static let maxRedirects = 10

    /// Sends one request (with the credentials, if any); `followRedirects` follows the node's 307
    /// to the leader, sending the same headers there: the nodes of a cluster share its users, and
    /// the node that redirects has received the credentials already. A redirect from HTTPS to
    /// plain HTTP is refused (``HTTPClientError/Code/insecureRedirect``).
    func send(_ method: String, _ path: String, json body: String? = nil, followRedirects: Bool = false,
              timeout requestTimeout: Duration? = nil) async throws(NodeUnreachable) -> NodeAnswer {
        var headers = HTTPHeaders()
        if body != nil { headers.add(name: "Content-Type", value: "application/json") }
        if let credentials { headers.add(name: "Authorization", value: credentials.headerValue) }
        let url = node.url + path
        let request = HTTPClientRequest(method: method, url: url, headers: headers, body: Array((body ?? "").utf8))
        do {
            let response = followRedirects
                ? try await client.send(request, followingRedirects: Self.maxRedirects, credentials: .clusterPeers,
                                        timeout: requestTimeout ?? timeout)
                : try await client.send(request, timeout: requestTimeout ?? timeout)
            return NodeAnswer(status: response.status, body: response.body, url: url)
        } catch {
            throw NodeUnreachable(url: node.url, authority: node.description, underlying: error)
        }
    }

    /// `GET path`, expecting 200 with a JSON body. Anything else is printed as
    /// `discoctl <command>: ...` and answered with the exit status 1.
    func getJSON(_ path: String, command: String) async -> Result<(JSONValue, NodeAnswer), ExitStatus> {
        let answer: NodeAnswer
        do {
            answer = try await send("GET", path)
        } catch {
            return .failure(fail(command, "\(error)"))
        }
        guard answer.status == 200 else {
            return .failure(fail(command, "the node at \(node.url) answered GET \(path) with \(answer.status): \(answer.errorMessage)"))
        }
        guard let json = answer.json else {
            return .failure(fail(command, "the node at \(node.url) answered GET \(path) with a body that is not JSON: \(answer.text.prefix(200))"))
        }
        return .success((json, answer))
    }
}

// MARK: - Query strings

/// `text` as a query-string value: every byte outside RFC 3986's unreserved characters is
/// percent-encoded, so `+`, `&`, `=`, `#` and `%` reach the node as written.
func queryEscaped(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var output: [UInt8] = []
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            output.append(byte)
        default:
            output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
        }
    }
    return String(decoding: output, as: UTF8.self)
}

// MARK: - Failures and usage errors

/// Prints `discoctl <command>: <message>` and returns exit status 1.
func fail(_ command: String, _ message: String) -> ExitStatus {
    CommandLineTool.writeStandardError("discoctl \(command): \(message)\n")
    return ExitStatus(1)
}

/// Prints a usage problem with the pointer to `-h` and returns exit status 2.
func usageError(_ context: CommandContext, _ message: String) -> Int32 {
    CommandLineTool.writeStandardError("\(context.flagSet.programName): \(message)\n\(context.flagSet.usageHint)\n")
    return 2
}
