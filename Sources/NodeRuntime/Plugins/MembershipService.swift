import DiscoCore
import DiscoNet
import DiscoSWIM

// MARK: - MembershipService

/// Who is alive: gossip-based failure detection among all nodes, voters or not.
///
/// The embedded implementation is ``SWIMMembership``. Membership here is advisory (health and
/// addresses); who belongs to the cluster is decided by consensus.
public protocol MembershipService: Sendable {
    /// Every member known, with its state.
    func members() async -> [MembershipMember]
    /// Contacts these membership addresses to exchange state; returns how many answered.
    func join(seeds: [PeerAddress]) async throws -> Int
    /// Members joining, failing, leaving or changing addresses, as they happen.
    var events: AsyncStream<MembershipMember> { get }
    /// Announces that this node leaves, then stops.
    func leave() async
    func shutdown() async
    /// Re-reads what may change at run time (the gossip keyring file); SIGHUP calls it.
    func reload()
    /// Gossip traffic and encryption counters; nil for a service without gossip.
    func gossipStatus() async -> GossipStatus?
}

extension MembershipService {
    public func reload() {}
    public func gossipStatus() async -> GossipStatus? { nil }
}

/// Gossip traffic, whether it is sealed, and what was dropped or refused because of it.
public struct GossipStatus: Sendable, Hashable {
    /// Datagrams received and handed to the protocol, and datagrams sent.
    public var datagramsReceived = 0
    public var datagramsSent = 0
    /// Datagrams dropped as no SWIM packet (truncated, garbage, sealed without a key here).
    public var datagramsDropped = 0
    /// Datagrams dropped unread because their sender went beyond its rate (a flood).
    public var datagramsRateLimited = 0
    public var encrypted = false
    /// Keys in the keyring (primary and accepted).
    public var keys = 0
    /// Messages that did not open with any key (another key or label, altered bytes).
    public var decryptFailures = 0
    /// Plaintext messages refused.
    public var plaintextDropped = 0
    /// Plaintext messages accepted (`-gossip-verify-incoming=false`).
    public var plaintextAccepted = 0
    /// Messages opened with an accepted key rather than the primary.
    public var openedWithAcceptedKey = 0
    /// Push-pull exchanges another member refused (it could not open ours).
    public var pushPullsRefused = 0
    /// Plaintext gossip dropped for being labelled with another cluster's name.
    public var clusterRefusals = 0
    /// Plaintext gossip accepted without a cluster label (from nodes of an older version).
    public var unlabelledAccepted = 0
    /// Keyring file reloads that installed new keys, and that failed.
    public var keyringReloads = 0
    public var keyringReloadFailures = 0
    /// Reports of another live process using this node's ID at another address.
    public var nodeIDConflicts = 0

    public init() {}
}

/// What gossip says about a member.
public enum MembershipState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case alive, suspect, dead, left

    /// Alive or suspect: still taking part.
    public var isLive: Bool { self == .alive || self == .suspect }

    public var description: String { rawValue }
}

/// One member as the membership service sees it.
public struct MembershipMember: Sendable, Hashable {
    public var id: NodeID
    /// The membership (and Raft) address, `host:port`.
    public var address: PeerAddress
    public var apiAddress: PeerAddress?
    public var voter: Bool
    public var state: MembershipState

    public init(id: NodeID, address: PeerAddress, apiAddress: PeerAddress?, voter: Bool, state: MembershipState) {
        self.id = id
        self.address = address
        self.apiAddress = apiAddress
        self.voter = voter
        self.state = state
    }

    public var isLive: Bool { state.isLive }
}

// MARK: - SWIMMembership

/// ``MembershipService`` backed by a ``SWIM/Shell`` on UDP at the Raft port; its TCP push-pull
/// exchanges arrive through the Raft listener (``answer(_:on:)``).
public final class SWIMMembership: MembershipService {
    public let shell: SWIM.Shell
    /// The shell's events as members, mapped as they are read (no task of its own).
    public let events: AsyncStream<MembershipMember>
    /// The gossip keyring file, reloaded on ``reload()`` and when it changes.
    public let keyringFile: SWIM.GossipKeyringFile?

    /// Membership through `shell`; with `keyringFile`, keys reloaded from it are installed in
    /// the shell, then given to `alsoInstall` (the node's sealed Raft frames); the file is polled
    /// every `pollInterval` until ``shutdown()``.
    public init(shell: SWIM.Shell, keyringFile: SWIM.GossipKeyringFile? = nil, pollInterval: Duration = .seconds(1),
                alsoInstall: @escaping @Sendable (GossipKeyring) -> Void = { _ in }) {
        self.shell = shell
        self.keyringFile = keyringFile
        if let keyringFile {
            keyringFile.onReload { keyring throws(SWIM.ShellError) in
                try shell.installKeyring(keyring)
                alsoInstall(keyring)
            }
            keyringFile.startPolling(every: pollInterval)
        }
        events = AsyncStream.mapping(shell.events) { event in
            let member: SWIM.Member = switch event {
            case .joined(let m), .suspect(let m), .alive(let m), .dead(let m), .left(let m), .metadataUpdated(let m): m
            }
            return Self.view(member)
        }
    }

    static func view(_ member: SWIM.Member) -> MembershipMember {
        MembershipMember(id: member.id, address: member.address, apiAddress: member.metadata.apiAddress,
                         voter: member.metadata.isVoter, state: state(member.status))
    }

    static func state(_ status: SWIM.MemberStatus) -> MembershipState {
        switch status {
        case .alive: .alive
        case .suspect: .suspect
        case .dead: .dead
        case .left: .left
        }
    }

    public func members() async -> [MembershipMember] {
        await shell.members.map(Self.view)
    }

    public func join(seeds: [PeerAddress]) async throws -> Int {
        try await shell.join(seeds: seeds)
    }

    public func leave() async { await shell.leave() }

    public func shutdown() async {
        keyringFile?.stop()
        await shell.shutdown()
    }

    public func reload() {
        keyringFile?.reload(trigger: "SIGHUP")
    }

    public func gossipStatus() async -> GossipStatus? {
        let statistics = await shell.statistics
        var status = GossipStatus()
        status.datagramsReceived = statistics.datagramsReceived
        status.datagramsSent = statistics.datagramsSent
        status.datagramsDropped = statistics.datagramsDropped
        status.datagramsRateLimited = statistics.datagramsRateLimited
        status.encrypted = shell.isEncrypted
        status.keys = shell.keyring?.keys.count ?? 0
        status.decryptFailures = statistics.decryptFailures
        status.plaintextDropped = statistics.plaintextDropped
        status.plaintextAccepted = statistics.plaintextAccepted
        status.openedWithAcceptedKey = statistics.openedWithAcceptedKey
        status.pushPullsRefused = statistics.pushPullsRefused
        status.nodeIDConflicts = statistics.nodeIDConflicts
        status.clusterRefusals = statistics.clusterRefusals
        status.unlabelledAccepted = statistics.unlabelledAccepted
        if let counters = keyringFile?.counters {
            status.keyringReloads = counters.reloads
            status.keyringReloadFailures = counters.failures
        }
        return status
    }

    /// Answers a push-pull connection handed over by the shared internode listener.
    public func answer(_ frame: Frame, on connection: FramedConnection) async {
        await shell.answerPushPull(frame, on: connection)
    }
}
