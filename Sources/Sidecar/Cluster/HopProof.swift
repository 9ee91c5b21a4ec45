// MARK: - HopProof

/// What a sidecar attaches to a request it sends another sidecar (a write forwarded to the
/// writer, or a shared zone's counts) so the receiver can check that a member sent it, instead of
/// taking ``RoutingDecision/hopHeader`` on trust: an HMAC-SHA256, under the key every sidecar
/// has (`-proxy-hop-key`), over the method, the request target, the sender's node ID, the
/// receiver's node ID, a wall-clock timestamp, a random nonce and (for counts) the body's SHA-256.
///
///     Disco-Sidecar-Proof: v2 node=n1 ts=1764900000123 nonce=<32 hex> mac=<64 hex>
///
/// The receiver is not in the header: each sidecar checks a proof with its own node ID, so one
/// made for another sidecar does not verify (it cannot be replayed at a sidecar whose replay
/// guard never saw its nonce). Version 1 proofs did not cover the receiver and are refused.
///
/// This type is the header's syntax and the bytes the MAC covers; computing and checking the MAC
/// (libcrypto, constant time) is the shell's, and so is the replay check (``HopReplayGuard``).
public struct HopProof: Hashable, Sendable {
    /// The request header carrying the proof.
    public static let header = "Disco-Sidecar-Proof"
    public static let nonceLength = 16
    public static let macLength = 32
    /// Longest node ID a proof names.
    public static let maximumNodeIDLength = 256
    /// The version tag the header starts with, and that the MAC's bytes are labelled with.
    public static let version = "v2"

    /// The sender's node ID.
    public var node: String
    /// Milliseconds since the Unix epoch, by the sender's clock.
    public var timestamp: Int64
    public var nonce: [UInt8]
    public var mac: [UInt8]

    public init(node: String, timestamp: Int64, nonce: [UInt8], mac: [UInt8]) {
        self.node = node
        self.timestamp = timestamp
        self.nonce = nonce
        self.mac = mac
    }

    /// The header's value.
    public var headerValue: String {
        "\(Self.version) node=\(node) ts=\(timestamp) nonce=\(Hex.encode(nonce)) mac=\(Hex.encode(mac))"
    }

    // MARK: What the MAC covers

    /// The bytes the MAC is computed over: a version label, then each field as a 4-byte
    /// big-endian length and its bytes, so no two different requests share them.
    /// - Parameters:
    ///   - node: the sender's node ID.
    ///   - receiver: the node ID of the sidecar the request is sent to (the writer's, for a hop;
    ///     the peer's, for counts); the receiver checks the proof with its own.
    public static func signedBytes(method: String, target: String, node: String, receiver: String, timestamp: Int64, nonce: [UInt8],
                                   bodyDigest: [UInt8] = []) -> [UInt8] {
        var bytes = Array("disco-sidecar-hop-\(version)".utf8)
        for field in [Array(method.utf8), Array(target.utf8), Array(node.utf8), Array(receiver.utf8), Array(String(timestamp).utf8),
                      nonce, bodyDigest] {
            let length = UInt32(truncatingIfNeeded: field.count)
            bytes += [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            bytes += field
        }
        return bytes
    }

    // MARK: Parsing

    /// Reads a header value; the error says what is wrong and what a valid one looks like.
    public static func parse(_ text: String) -> Result<HopProof, SidecarSyntaxError> {
        let example = "expected '\(version) node=ID ts=MILLISECONDS nonce=\(nonceLength * 2) hex digits mac=\(macLength * 2) hex digits'"
        guard text.utf8.count <= 1024 else { return .failure(SidecarSyntaxError("the hop proof is longer than 1024 bytes; \(example)")) }
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        if parts.first == "v1" {
            return .failure(SidecarSyntaxError("the hop proof is version v1, which does not name its receiver, from a sidecar of an older "
                + "version; this one accepts only \(version): every sidecar of the cluster must run the same version"))
        }
        guard parts.first.map(String.init) == version else {
            return .failure(SidecarSyntaxError("the hop proof does not start with version \(version); \(example)"))
        }
        var fields: [String: String] = [:]
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "=") else { return .failure(SidecarSyntaxError("\(String(part).debugDescription) is not NAME=VALUE; \(example)")) }
            let name = String(part[..<equals])
            guard ["node", "ts", "nonce", "mac"].contains(name) else {
                return .failure(SidecarSyntaxError("unknown hop proof field \(name.debugDescription); \(example)"))
            }
            guard fields[name] == nil else { return .failure(SidecarSyntaxError("hop proof field \(name) is given twice; \(example)")) }
            fields[name] = String(part[part.index(after: equals)...])
        }
        guard let node = fields["node"], !node.isEmpty, node.utf8.count <= maximumNodeIDLength,
              node.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(SidecarSyntaxError("the hop proof needs node=ID (1 to \(maximumNodeIDLength) visible ASCII characters); \(example)"))
        }
        guard let text = fields["ts"], !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let timestamp = Int64(text) else {
            return .failure(SidecarSyntaxError("the hop proof needs ts=MILLISECONDS since the Unix epoch; \(example)"))
        }
        guard let nonce = fields["nonce"].flatMap({ Hex.decode($0) }), nonce.count == nonceLength else {
            return .failure(SidecarSyntaxError("the hop proof needs nonce= with \(nonceLength * 2) hex digits; \(example)"))
        }
        guard let mac = fields["mac"].flatMap({ Hex.decode($0) }), mac.count == macLength else {
            return .failure(SidecarSyntaxError("the hop proof needs mac= with \(macLength * 2) hex digits; \(example)"))
        }
        return .success(HopProof(node: node, timestamp: timestamp, nonce: nonce, mac: mac))
    }
}
