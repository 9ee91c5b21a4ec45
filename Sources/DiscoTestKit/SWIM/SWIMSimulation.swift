import DiscoCore
import DiscoSWIM

// MARK: - SWIMSimulation

/// Many real `SWIM.Instance`s exchanging real encoded datagrams over a `SimulatedNetwork`, in
/// virtual time, driven by one seed. Nodes can crash, restart, be starved of CPU (their inputs
/// wait until the stall ends), leave, and be partitioned. The same seed gives the same run.
public final class SWIMSimulation {
    /// One simulated member.
    struct Node {
        let id: NodeID
        let address: PeerAddress
        var instance: SWIM.Instance?
        var generation = 0
        var armed: [SWIM.Timer: Duration] = [:]
        var stalledUntil: Duration = .zero
        var hasLeft = false
    }

    enum Event {
        case timer(node: Int, generation: Int, SWIM.Timer, deadline: Duration)
        case datagram(to: Int, from: Int, bytes: [UInt8])
        case pushPullRequest(to: Int, from: Int, generation: Int, bytes: [UInt8])
        case pushPullReply(to: Int, from: Int, generation: Int, bytes: [UInt8])
        case action(Int)
    }

    public let settings: SWIM.Settings
    /// Seals every datagram and push-pull state on the simulated wire, as an encrypting shell
    /// does (nil: plaintext). The cores then build packets smaller by the envelope, and every
    /// message must open again on arrival.
    public let sealer: SWIM.GossipSealer?
    /// Virtual time.
    public private(set) var now: Duration = .zero
    public var network: SimulatedNetwork<Int>
    var queue = EventQueue<Event>()
    var random: DeterministicRandom
    var nodes: [Node] = []
    var addressIndex: [PeerAddress: Int] = [:]
    var actions: [(SWIMSimulation) -> Void] = []

    /// Called for every member event: (observer node, event, time).
    public var onMemberEvent: ((Int, SWIM.MemberEvent, Duration) -> Void)?
    /// Datagrams sent so far (before loss).
    public private(set) var datagramsSent = 0
    /// Bytes of datagrams sent so far.
    public private(set) var bytesSent = 0
    /// Push-pull exchanges started so far.
    public private(set) var pushPullsStarted = 0
    /// Problems found in the traffic itself (oversize or undecodable packets).
    public private(set) var trafficViolations: [String] = []
    /// Events processed so far.
    public private(set) var eventsProcessed = 0
    /// Node ID conflicts the cores reported, with the reporting node and time. Only a run with
    /// two live nodes sharing an ID (``addNode(sharingIDWith:)``) should have any.
    public private(set) var nodeIDConflicts: [(node: Int, conflict: SWIM.NodeIDConflict, at: Duration)] = []

    /// The node ID conflicts reported, as violations of a run where every node has its own ID
    /// (any report is a false positive there).
    public var nodeIDConflictViolations: [String] {
        nodeIDConflicts.map { "t=\(SWIMScenario.format($0.at)) n\($0.node) reported a node ID conflict: \($0.conflict)" }
    }

    /// Creates `memberCount` nodes (not started). With `converged`, every node starts out
    /// knowing every other as alive (one shared snapshot), as in a long-running cluster.
    public init(memberCount: Int, seed: UInt64, settings: SWIM.Settings = .testing,
                faults: NetworkFaults = NetworkFaults(), converged: Bool = false, sealer: SWIM.GossipSealer? = nil) {
        self.settings = settings
        self.sealer = sealer
        self.network = SimulatedNetwork(faults: faults)
        self.random = DeterministicRandom(seed: seed)
        nodes.reserveCapacity(memberCount)
        for index in 0..<memberCount { addNodeRecord(index) }
        if converged {
            let states = nodes.map {
                SWIM.MemberState(id: $0.id, address: $0.address, incarnation: 0, status: .alive, metadata: SWIM.Metadata())
            }
            let snapshot = SWIM.Snapshot(states, at: .zero)
            for index in nodes.indices {
                nodes[index].instance = makeInstance(index, snapshot: snapshot)
                perform(nodes[index].instance?.start(now: now) ?? [], node: index)
            }
        }
    }

    @discardableResult
    func addNodeRecord(_ index: Int, id: NodeID? = nil) -> Int {
        let host = "10.\(index >> 16 & 0xFF).\(index >> 8 & 0xFF).\(index & 0xFF)"
        let address = PeerAddress(host: host, port: 7946)
        nodes.append(Node(id: id ?? NodeID(stringLiteral: "n\(index)"), address: address))
        addressIndex[address] = index
        return index
    }

    /// What the cores run with: packets smaller by the envelope when sealing (as in the shell).
    var coreSettings: SWIM.Settings {
        var core = settings
        if sealer != nil { core.maxPacketSize -= SWIM.GossipSealer.overhead }
        return core
    }

    func makeInstance(_ index: Int, snapshot: SWIM.Snapshot? = nil) -> SWIM.Instance? {
        let node = nodes[index]
        let settings = coreSettings
        do {
            if let snapshot {
                return try SWIM.Instance(id: node.id, address: node.address, settings: settings,
                                         random: random.fork(), snapshot: snapshot)
            }
            return try SWIM.Instance(id: node.id, address: node.address, settings: settings, random: random.fork())
        } catch {
            trafficViolations.append("cannot create \(node.id): \(error)")
            return nil
        }
    }

    // MARK: Queries

    public var memberCount: Int { nodes.count }
    public func id(of node: Int) -> NodeID { nodes[node].id }
    public func address(of node: Int) -> PeerAddress { nodes[node].address }
    /// Whether the node is running (started, not crashed, not left).
    public func isUp(_ node: Int) -> Bool { nodes[node].instance != nil }
    /// The node's instance (nil when down).
    public func instance(_ node: Int) -> SWIM.Instance? { nodes[node].instance }
    /// What `observer` believes about `subject` (nil when unknown or the observer is down).
    public func status(seenBy observer: Int, of subject: Int) -> SWIM.MemberStatus? {
        nodes[observer].instance?.member(nodes[subject].id)?.status
    }
    /// Node index of a member ID of this simulation (the first node with it, when IDs are shared).
    public func index(of id: NodeID) -> Int? {
        guard id.rawValue.hasPrefix("n"), let value = Int(id.rawValue.dropFirst()), nodes.indices.contains(value) else { return nil }
        return value
    }

    // MARK: Control (takes effect at the current virtual time)

    /// Adds a node record (not started) and returns its index.
    public func addNode() -> Int { addNodeRecord(nodes.count) }

    /// Adds a node record (not started) with the ID of `other` at a new address: the same
    /// member restarted elsewhere (crash `other` first), or a duplicate (keep both running).
    public func addNode(sharingIDWith other: Int) -> Int { addNodeRecord(nodes.count, id: nodes[other].id) }

    /// Starts a node (fresh state, incarnation 0) and joins it through `seeds`.
    public func start(_ node: Int, seeds: [Int]) {
        guard nodes[node].instance == nil else { return }
        nodes[node].generation += 1
        nodes[node].armed = [:]
        nodes[node].hasLeft = false
        nodes[node].stalledUntil = .zero
        nodes[node].instance = makeInstance(node)
        perform(nodes[node].instance?.start(now: now) ?? [], node: node)
        let addresses = seeds.filter { $0 != node }.map { nodes[$0].address }
        perform(nodes[node].instance?.join(addresses, now: now) ?? [], node: node)
    }

    /// Stops a node abruptly: it loses all state; in-flight traffic to it is dropped.
    public func crash(_ node: Int) {
        nodes[node].instance = nil
        nodes[node].generation += 1
        nodes[node].armed = [:]
    }

    /// Starves a node of CPU until `until`: everything it would process waits until then.
    public func stall(_ node: Int, until: Duration) {
        nodes[node].stalledUntil = max(nodes[node].stalledUntil, until)
    }

    /// Asks a node to leave gracefully; it shuts down once the core says the news spread.
    public func leave(_ node: Int) {
        perform(nodes[node].instance?.leave(now: now) ?? [], node: node)
    }

    /// Runs `action` at virtual time `time`.
    public func schedule(at time: Duration, _ action: @escaping (SWIMSimulation) -> Void) {
        actions.append(action)
        queue.schedule(.action(actions.count - 1), at: max(time, now))
    }

    // MARK: Running

    /// Processes events in time order up to and including `time`.
    public func run(until time: Duration) {
        while let next = queue.nextTime, next <= time, let (eventTime, event) = queue.pop() {
            now = eventTime
            eventsProcessed += 1
            handle(event)
        }
        now = max(now, time)
    }

    func handle(_ event: Event) {
        switch event {
        case .action(let index):
            actions[index](self)
        case .timer(let node, let generation, let timer, let deadline):
            guard nodes[node].generation == generation, nodes[node].instance != nil,
                nodes[node].armed[timer] == deadline
            else { return }
            if deferIfStalled(node, event) { return }
            nodes[node].armed[timer] = nil
            perform(nodes[node].instance?.timerFired(timer, now: now) ?? [], node: node)
        case .datagram(let to, let from, let bytes):
            guard nodes[to].instance != nil, !deferIfStalled(to, event),
                  let bytes = open(bytes, .datagram, at: to, from: from) else { return }
            let packet: SWIM.Packet
            do { packet = try SWIM.WireCodec.decodePacket(bytes) } catch {
                trafficViolations.append("t=\(now) \(nodes[to].id) cannot decode a datagram from \(nodes[from].id): \(error)")
                return
            }
            let source = nodes[from].address
            perform(nodes[to].instance?.received(packet, from: source, now: now) ?? [], node: to)
        case .pushPullRequest(let to, let from, let generation, let bytes):
            guard nodes[to].instance != nil, !network.isCut(from: from, to: to), !deferIfStalled(to, event),
                  let bytes = open(bytes, .pushPull, at: to, from: from) else { return }
            let state: SWIM.PushPullState
            do { state = try SWIM.WireCodec.decodePushPull(bytes) } catch {
                trafficViolations.append("t=\(now) \(nodes[to].id) cannot decode a push-pull from \(nodes[from].id): \(error)")
                return
            }
            let source = nodes[from].address
            guard let answer = nodes[to].instance?.receivedPushPull(state, from: source, now: now) else { return }
            perform(answer.effects, node: to)
            guard !network.isCut(from: to, to: from) else { return }
            queue.schedule(.pushPullReply(to: from, from: to, generation: generation,
                                          bytes: seal(SWIM.WireCodec.encode(answer.reply), .pushPull, at: to)),
                           at: now + connectionDelay())
        case .pushPullReply(let to, let from, let generation, let bytes):
            guard nodes[to].generation == generation, nodes[to].instance != nil, !deferIfStalled(to, event),
                  let bytes = open(bytes, .pushPull, at: to, from: from) else { return }
            let state: SWIM.PushPullState
            do { state = try SWIM.WireCodec.decodePushPull(bytes) } catch {
                trafficViolations.append("t=\(now) \(nodes[to].id) cannot decode a push-pull reply: \(error)")
                return
            }
            let source = nodes[from].address
            perform(nodes[to].instance?.pushPullCompleted(state, from: source, now: now) ?? [], node: to)
        }
    }

    /// Re-queues `event` for the end of the node's stall; true when it did.
    func deferIfStalled(_ node: Int, _ event: Event) -> Bool {
        guard now < nodes[node].stalledUntil else { return false }
        queue.schedule(event, at: nodes[node].stalledUntil)
        return true
    }

    /// A TCP exchange's one-way time: a handshake and the data, never lost.
    func connectionDelay() -> Duration {
        let low = network.faults.minDelay.nanoseconds
        let high = max(low, network.faults.maxDelay.nanoseconds)
        return .nanoseconds(2 * (low == high ? low : Int64.random(in: low...high, using: &random)))
    }

    func perform(_ effects: [SWIM.Effect], node: Int) {
        for effect in effects {
            switch effect {
            case .send(let packet, let destination):
                let bytes = seal(SWIM.WireCodec.encode(packet), .datagram, at: node)
                datagramsSent += 1
                bytesSent += bytes.count
                if bytes.count > settings.maxPacketSize {
                    trafficViolations.append("t=\(now) \(nodes[node].id) sent a \(bytes.count)-byte datagram (limit \(settings.maxPacketSize))")
                }
                guard let target = addressIndex[destination] else { continue }
                for delay in network.deliveries(from: node, to: target, random: &random) {
                    queue.schedule(.datagram(to: target, from: node, bytes: bytes), at: now + delay)
                }
            case .arm(let timer, let deadline):
                nodes[node].armed[timer] = deadline
                queue.schedule(.timer(node: node, generation: nodes[node].generation, timer, deadline: deadline), at: max(deadline, now))
            case .event(let event):
                onMemberEvent?(node, event, now)
            case .startPushPull(let destination, let state):
                pushPullsStarted += 1
                guard let target = addressIndex[destination], !network.isCut(from: node, to: target) else { continue }
                queue.schedule(.pushPullRequest(to: target, from: node, generation: nodes[node].generation,
                                                bytes: seal(SWIM.WireCodec.encode(state), .pushPull, at: node)),
                               at: now + connectionDelay())
            case .leaveCompleted:
                nodes[node].hasLeft = true
                crash(node)
            case .nodeIDConflict(let conflict):
                nodeIDConflicts.append((node, conflict, now))
            }
        }
    }
}

// MARK: - Sealing on the simulated wire

extension SWIMSimulation {
    /// `plaintext` as it goes on the wire from `node`: sealed when the simulation seals.
    func seal(_ plaintext: [UInt8], _ purpose: SWIM.GossipSealer.Purpose, at node: Int) -> [UInt8] {
        guard let sealer else { return plaintext }
        do {
            return try sealer.seal(plaintext, purpose: purpose)
        } catch {
            trafficViolations.append("t=\(now) \(nodes[node].id) cannot seal: \(error)")
            return plaintext
        }
    }

    /// What arrived at `node`, opened when the simulation seals; nil (a violation) when it
    /// does not open.
    func open(_ bytes: [UInt8], _ purpose: SWIM.GossipSealer.Purpose, at node: Int, from sender: Int) -> [UInt8]? {
        guard let sealer else { return bytes }
        switch sealer.open(bytes, purpose: purpose) {
        case .success(let opened):
            return opened.bytes
        case .failure(let failure):
            trafficViolations.append("t=\(now) \(nodes[node].id) cannot open a message from \(nodes[sender].id): \(failure)")
            return nil
        }
    }
}
