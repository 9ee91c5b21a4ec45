import DiscoAuth
import DiscoCore
import DiscoSystem
import Glibc
import Sidecar
import Synchronization

// MARK: - The hop key

/// `-proxy-hop-key`: a secret every sidecar of the cluster holds, read from a file (surrounding
/// whitespace trimmed; at least 32 bytes).
public struct HopKey: Sendable {
    public static let minimumLength = 32
    let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(SidecarSyntaxError) {
        guard bytes.count >= Self.minimumLength else {
            throw SidecarSyntaxError("the hop key has \(bytes.count) bytes; it needs at least \(Self.minimumLength), e.g. from 'openssl rand -hex 32'")
        }
        self.bytes = bytes
    }

    /// Reads the key file; a missing, unreadable or short file is a flag error naming it (exit 2).
    public static func load(_ path: String) throws(FlagError) -> HopKey {
        let contents = try ProcessEnvironment.readFlagFile(path, flag: "proxy-hop-key", limit: 64 << 10)
        var trimmed = ArraySlice(contents)
        while let first = trimmed.first, first == 0x20 || first == 0x0A || first == 0x0D || first == 0x09 { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 { trimmed = trimmed.dropLast() }
        do throws(SidecarSyntaxError) {
            return try HopKey(bytes: Array(trimmed))
        } catch {
            throw FlagError(code: .invalidValue, flag: "proxy-hop-key", message: "-proxy-hop-key \(path.debugDescription): \(error.message)")
        }
    }
}

// MARK: - HopAuthenticator

/// Signs this sidecar's hops and checks others' (``HopProof``): HMAC-SHA256 from libcrypto,
/// compared in constant time, timestamps within ``HopReplayGuard/skew`` of this clock, each
/// nonce accepted once. A proof is made for one receiver (its node ID) and checked with this
/// node's ID as the receiver, so a proof for another sidecar never verifies here.
public final class HopAuthenticator: Sendable {
    /// Why a proof was not accepted, or who proved it.
    public enum Verdict: Hashable, Sendable {
        case proven(node: String)
        case refused(label: String, reason: String)
    }

    private let key: HopKey
    private let nodeID: String
    private let replay: Mutex<HopReplayGuard>
    /// Milliseconds since the Unix epoch.
    private let clock: @Sendable () -> Int64

    public init(key: HopKey, nodeID: String, replayGuard: HopReplayGuard = HopReplayGuard(),
                clock: @escaping @Sendable () -> Int64 = HopAuthenticator.wallClock) {
        self.key = key
        self.nodeID = nodeID
        replay = Mutex(replayGuard)
        self.clock = clock
    }

    /// `CLOCK_REALTIME` in milliseconds.
    public static let wallClock: @Sendable () -> Int64 = {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    // MARK: Signing

    /// The proof header's value for a request this sidecar sends now to the sidecar of node
    /// `receiver` (the writer's node ID for a hop, the peer's for counts; only that sidecar
    /// accepts it). `body`: hashed into the proof when non-nil, for counts.
    public func proof(method: String, target: String, receiver: String, body: [UInt8]? = nil) -> String {
        proof(method: method, target: target, receiver: receiver, body: body, timestamp: clock(),
              nonce: (try? SystemCrypto.randomBytes(HopProof.nonceLength)))
    }

    /// A proof with a given timestamp and nonce (tests make stale ones with it).
    public func proof(method: String, target: String, receiver: String, body: [UInt8]? = nil, timestamp: Int64, nonce: [UInt8]?) -> String {
        // Without random bytes or a MAC (libcrypto failing) the proof is empty, which every
        // receiver refuses: the request is then routed as a client's.
        guard let nonce, nonce.count == HopProof.nonceLength,
              let mac = mac(method: method, target: target, node: nodeID, receiver: receiver, timestamp: timestamp, nonce: nonce,
                            body: body) else { return "" }
        return HopProof(node: nodeID, timestamp: timestamp, nonce: nonce, mac: mac).headerValue
    }

    // MARK: Checking

    /// Checks a proof header for a request with `method` and `target` (and `body` when the
    /// proof covers one) that reached this sidecar: the proof must have been made for this node.
    public func verify(_ header: String?, method: String, target: String, body: [UInt8]? = nil) -> Verdict {
        guard let header else { return .refused(label: "missing", reason: "no \(HopProof.header) header") }
        let proof: HopProof
        switch HopProof.parse(header) {
        case .success(let parsed): proof = parsed
        case .failure(let problem): return .refused(label: "malformed", reason: problem.message)
        }
        guard let expected = mac(method: method, target: target, node: proof.node, receiver: nodeID, timestamp: proof.timestamp,
                                 nonce: proof.nonce, body: body),
              SystemCrypto.constantTimeEqual(expected, proof.mac) else {
            return .refused(label: "bad_mac", reason: "the proof's MAC does not verify under -proxy-hop-key for this node "
                + "\(nodeID.debugDescription) (another key, a proof made for another sidecar, or the request was altered)")
        }
        // Only a proof that verifies is remembered, so forged ones cannot fill the memory.
        let verdict = replay.withLock { $0.admit(nonce: proof.nonce, timestamp: proof.timestamp, now: clock()) }
        switch verdict {
        case .accepted: return .proven(node: proof.node)
        case .expired(let age): return .refused(label: verdict.label, reason: "the proof is \(age) ms old; at most \(replay.withLock { $0.skew }) ms are accepted")
        case .fromTheFuture(let ahead): return .refused(label: verdict.label, reason: "the proof is \(ahead) ms ahead of this clock")
        case .replayed: return .refused(label: verdict.label, reason: "the proof was used before")
        case .full: return .refused(label: verdict.label, reason: "too many proofs to remember right now")
        }
    }

    private func mac(method: String, target: String, node: String, receiver: String, timestamp: Int64, nonce: [UInt8],
                     body: [UInt8]?) -> [UInt8]? {
        var digest: [UInt8] = []
        if let body {
            guard let hashed = try? SystemCrypto.sha256(body) else { return nil }
            digest = hashed
        }
        let bytes = HopProof.signedBytes(method: method, target: target, node: node, receiver: receiver, timestamp: timestamp, nonce: nonce,
                                         bodyDigest: digest)
        return try? SystemCrypto.hmacSHA256(key: key.bytes, bytes)
    }
}
