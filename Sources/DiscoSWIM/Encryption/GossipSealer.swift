import DiscoCore

// MARK: - Sealed envelope
//
// Every sealed datagram, and every sealed push-pull frame payload, is
//
//     version (u8 = 0x81) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// AES-256-GCM under the keyring's primary key. Each sealer's nonces are a random 96-bit base
// from OpenSSL's RAND_bytes XORed with a message counter, so no two of its messages share one.
// The associated data (authenticated, never sent) is
//
//     "disco-gossip" | 0x00 | version | purpose (1 datagram, 2 push-pull, 3 Raft frame) | label (UTF-8)
//
// so a datagram cannot be passed off as a push-pull state or the other way round, and two
// clusters that share a key but not a label (discod uses the cluster name) reject each other's
// traffic. A plaintext SWIM message starts with the codec's version byte 0x01, or with 0x4C
// when it carries a cluster label (SWIM.WireLabel), so the first byte tells sealed traffic
// from plaintext. Sealed messages carry no separate label: the label above binds them. There is no replay protection: SWIM tolerates
// duplicated and late messages (incarnation numbers order what they say).

extension SWIM {
    /// Seals and opens SWIM traffic with a ``GossipKeyring``: seals with the primary key, opens
    /// with any key of the ring. A value; swap in a new one to rotate keys.
    public struct GossipSealer: Sendable {
        /// What a sealed message carries; bound into the associated data.
        public enum Purpose: UInt8, Sendable, CaseIterable {
            case datagram = 1
            case pushPull = 2
            /// A Raft frame on the internode port (discod seals Raft with the gossip keyring).
            case raftFrame = 3
        }

        /// The envelope's version byte (high bit set: never a plaintext SWIM message's first byte).
        public static let version: UInt8 = 0x81
        /// Bytes sealing adds to a message: version, nonce and tag.
        public static let overhead = 1 + AES256GCM.nonceByteCount + AES256GCM.tagByteCount
        static let context = Array("disco-gossip".utf8) + [0]

        public let keyring: GossipKeyring
        /// Bound into every message's associated data; both sides must use the same one.
        public let label: String
        /// Associated data per purpose, indexed by `Purpose.rawValue - 1`.
        private let associatedData: [[UInt8]]
        /// This sealer's nonces (nil if OpenSSL could not give a random base: each message then
        /// takes a random nonce, which fails the same way and is reported then).
        private let nonces: NonceSequence?

        public init(keyring: GossipKeyring, label: String = "") {
            self.keyring = keyring
            self.label = label
            associatedData = Purpose.allCases.map { Self.context + [Self.version, $0.rawValue] + Array(label.utf8) }
            nonces = try? NonceSequence()
        }

        /// The same label with another keyring.
        public func with(keyring: GossipKeyring) -> GossipSealer { GossipSealer(keyring: keyring, label: label) }

        // MARK: Sealing

        /// Seals `plaintext` with the primary key and a nonce this sealer never used before
        /// (``NonceSequence``).
        public func seal(_ plaintext: [UInt8], purpose: Purpose) throws(CryptoError) -> [UInt8] {
            let nonce: [UInt8]
            if let nonces { nonce = nonces.next() } else { nonce = try SecureRandom.bytes(AES256GCM.nonceByteCount) }
            var envelope = [Self.version] + nonce
            envelope.reserveCapacity(Self.overhead + plaintext.count)
            try AES256GCM.seal(plaintext, key: keyring.primary.bytes, nonce: nonce,
                               associatedData: associatedData[Int(purpose.rawValue) - 1], appendingTo: &envelope)
            return envelope
        }

        // MARK: Opening

        /// What opening found.
        public struct Opened: Sendable, Hashable {
            /// The plaintext.
            public var bytes: [UInt8]
            /// Which key of ``GossipKeyring/keys`` opened it: 0 is the primary.
            public var keyIndex: Int
        }

        /// Opens an envelope with the first key of the ring that authenticates it. Never traps
        /// on any input; a failure says why.
        public func open(_ envelope: [UInt8], purpose: Purpose) -> Result<Opened, OpenFailure> {
            guard let first = envelope.first else { return .failure(OpenFailure(.truncated, "empty message")) }
            guard first == Self.version else {
                if first == SWIM.WireCodec.version || first == SWIM.WireLabel.tag {
                    return .failure(OpenFailure(.plaintext, "plaintext SWIM message (not sealed with a gossip key)"))
                }
                return .failure(OpenFailure(.unknownVersion, "first byte \(first) is neither the sealed envelope version \(Self.version) "
                                            + "nor a plaintext SWIM message"))
            }
            guard envelope.count >= Self.overhead else {
                return .failure(OpenFailure(.truncated, "\(envelope.count) bytes, shorter than the \(Self.overhead) "
                                            + "of version, nonce and tag"))
            }
            let aad = associatedData[Int(purpose.rawValue) - 1]
            var plaintext = [UInt8](repeating: 0, count: envelope.count - Self.overhead)
            for (index, key) in keyring.keys.enumerated() {
                let opened = envelope.withUnsafeBytes { input in
                    plaintext.withUnsafeMutableBytes { output in
                        key.bytes.withUnsafeBytes { keyBytes in
                            aad.withUnsafeBytes { aadBytes in
                                AES256GCM.open(UnsafeRawBufferPointer(rebasing: input[(1 + AES256GCM.nonceByteCount)...]),
                                               key: keyBytes,
                                               nonce: UnsafeRawBufferPointer(rebasing: input[1..<(1 + AES256GCM.nonceByteCount)]),
                                               associatedData: aadBytes, into: output)
                            }
                        }
                    }
                }
                if opened { return .success(Opened(bytes: plaintext, keyIndex: index)) }
            }
            let keys = keyring.keys.count == 1 ? "the gossip key" : "any of the \(keyring.keys.count) gossip keys"
            return .failure(OpenFailure(.notAuthentic, "does not open with \(keys) (another key or label, or altered in transit)"))
        }
    }

    /// Why a message did not open.
    public struct OpenFailure: Error, Hashable, Sendable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            /// An unsealed SWIM message (a member without a key, or one migrating).
            case plaintext
            /// Too short to be an envelope.
            case truncated
            /// Neither an envelope nor plaintext SWIM.
            case unknownVersion
            /// No key of the ring authenticates it: another key or label, or altered bytes.
            case notAuthentic
        }

        public let kind: Kind
        public let reason: String

        init(_ kind: Kind, _ reason: String) {
            self.kind = kind
            self.reason = reason
        }

        public var description: String { reason }
    }
}

// MARK: - Key fingerprints

extension GossipKey {
    /// A name for the key that is safe to log: the first 8 hex digits of its SHA-256.
    public var fingerprint: String {
        let digits = Array("0123456789abcdef")
        return String(SHA256Digest.hash(bytes).prefix(4).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0F)]] })
    }
}

extension GossipKeyring {
    /// The keys' fingerprints for logs: `primary=1a2b3c4d accepted=5e6f7a8b,...`.
    public var fingerprints: String {
        "primary=\(primary.fingerprint) accepted=\(accepted.isEmpty ? "none" : accepted.map(\.fingerprint).joined(separator: ","))"
    }
}
