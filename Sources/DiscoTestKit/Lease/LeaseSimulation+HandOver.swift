import DiscoCore
import LeaseCore

// MARK: - Writes in flight and graceful hand-overs

/// A write on its way to the fenced backend: who sent it, with which token, and how many of its
/// copies (the network may duplicate it) have not arrived yet. It is in flight for its sender
/// until the answer to its last copy comes back.
struct LeaseWriteInFlight {
    let node: Int
    let generation: Int
    let token: UInt64
    var copies: Int
}

/// A holder's wait for its writes in flight before it releases the lease (stop or move): the
/// process, the token it held, when it began and when the drain timeout ends it (real time).
struct LeaseHandOver {
    let node: Int
    let generation: Int
    let token: UInt64
    let startedAt: Duration
    let deadline: Duration
}

extension LeaseSimulation {
    /// How long the answer to a write takes back to its sender (fixed: it draws nothing from the
    /// seed, so adding it changed no other schedule).
    static let writeAnswerDelay: Duration = .milliseconds(1)

    /// Sends a write of `node` with `token` to the backend, arriving after each of `delays`.
    mutating func sendWrite(_ node: Int, token: UInt64, delays: [Duration]) {
        guard !delays.isEmpty else { return }  // lost: the sender sees an error at once
        let id = nextWrite
        nextWrite += 1
        writesInFlight[id] = LeaseWriteInFlight(node: node, generation: replicas[node].generation, token: token, copies: delays.count)
        for delay in delays { queue.schedule(.backendWrite(token: token, from: node, write: id), at: now + delay) }
    }

    /// One copy of write `id` reached the backend; after its last one the answer travels back.
    mutating func writeArrived(_ id: UInt64?) {
        guard let id, var write = writesInFlight[id] else { return }
        write.copies -= 1
        writesInFlight[id] = write
        if write.copies == 0 {
            queue.schedule(.writeAnswered(write.node, generation: write.generation, write: id), at: now + Self.writeAnswerDelay)
        }
    }

    /// The writes `node`'s current process sent whose answers have not come back.
    func writesInFlight(of node: Int) -> [LeaseWriteInFlight] {
        let generation = replicas[node].generation
        return writesInFlight.values.filter { $0.node == node && $0.generation == generation }
    }

    /// The answer to write `id` reached its sender: a holder waiting for its writes in flight
    /// releases once none is left.
    mutating func writeAnswered(_ node: Int, generation: Int, write id: UInt64) {
        writesInFlight[id] = nil
        guard replicas[node].up, replicas[node].generation == generation,
              let token = replicas[node].holder.drainingToken, writesInFlight(of: node).isEmpty else { return }
        endDrain(node, token: token, timedOut: false)
    }

    // MARK: Draining

    /// ``LeaseHolder/Effect/awaitWritesInFlight(token:)``, as the shell does it: the holder is told
    /// when its writes in flight have answered, or when the drain timeout passed.
    mutating func startDrain(_ node: Int, token: UInt64) {
        let left = writesInFlight(of: node).count
        guard left > 0 else {
            perform(node, replicas[node].holder.writesDrained(token: token, now: localNow(node)))
            return
        }
        let generation = replicas[node].generation
        let deadline = replicas[node].clock.real(atLocal: localNow(node) + options.drainTimeout, notBefore: now)
        handOvers[token] = LeaseHandOver(node: node, generation: generation, token: token, startedAt: now, deadline: deadline)
        guard !options.ignoreWritesInFlight else {
            trace.record("\(replicas[node].id) releases token \(token) at once, \(left) writes still in flight", at: now)
            perform(node, replicas[node].holder.writesDrained(token: token, now: localNow(node)))
            return
        }
        drains += 1
        trace.record("\(replicas[node].id) waits for \(left) writes in flight before releasing token \(token) "
            + "(at most \(GoDuration.format(options.drainTimeout)))", at: now)
        queue.schedule(.drainTimeout(node, generation: generation, token: token), at: deadline)
    }

    /// The drain timeout of `node`'s wait for token `token` passed.
    mutating func drainTimedOut(_ node: Int, generation: Int, token: UInt64) {
        guard replicas[node].up, replicas[node].generation == generation, replicas[node].holder.drainingToken == token else { return }
        endDrain(node, token: token, timedOut: true)
    }

    mutating func endDrain(_ node: Int, token: UInt64, timedOut: Bool) {
        if timedOut {
            drainTimeouts += 1
            trace.record("\(replicas[node].id) stops waiting at the drain timeout, \(writesInFlight(of: node).count) writes "
                + "with token \(token) still in flight", at: now)
        } else {
            trace.record("\(replicas[node].id)'s writes in flight with token \(token) have answered", at: now)
        }
        perform(node, replicas[node].holder.writesDrained(token: token, now: localNow(node)))
    }

    /// Invariant 6 for a grant of `token` to `node` committed over the lease `before` it.
    mutating func checkHandOver(before: LeaseState, grantedTo node: NodeID, token: UInt64) {
        guard let handOver = handOvers[before.token] else { return }
        let old = handOver.node
        guard replicas[old].up, replicas[old].generation == handOver.generation, now < handOver.deadline,
              replicas[old].holder.healthy else { return }  // writes to a failing upstream are not waited for
        // Under chaos a holder cut off from the log may lose the lease at its ttl while it waits
        // (the fencing token guards the backend then); after its release, or in the quiet
        // hand-over scenario, never.
        guard options.scenario == .handOver || !before.isHeld else { return }
        let left = writesInFlight(of: old).filter { $0.token == before.token && $0.copies > 0 }.count
        checker.grantedDuringHandOver(token: token, to: node, from: replicas[old].id, previous: before.token, writesInFlight: left,
                                      waited: now - handOver.startedAt, drainTimeout: options.drainTimeout, at: now)
        if options.scenario == .handOver, before.isHeld, before.holder == replicas[old].id {
            checker.fail("\(LeaseSimulationTrace.stamp(now)): token \(token) granted to \(node) when \(replicas[old].id)'s lease "
                + "with token \(before.token) expired during its hand-over; it should have renewed until its release")
        }
    }

    // MARK: The hand-over scenario

    /// ``LeaseScenario/handOver``: one last write of the hot is slow (up to twice the drain
    /// timeout on its way); then the hot is stopped gracefully, or the lease moved elsewhere.
    mutating func handOverFromHot(_ hot: Int, token: UInt64) {
        killTime = now
        killedToken = token
        let slow = Duration.nanoseconds(Int64.random(in: 0...(2 * options.drainTimeout.nanoseconds), using: &random))
        sendWrite(hot, token: token, delays: [slow])
        let eligible = replicas.indices.filter { $0 != hot && replicas[$0].mayBeHot }
        if Bool.random(using: &random) || eligible.isEmpty {
            trace.record("STOP \(replicas[hot].id) gracefully, its write with token \(token) arrives in \(GoDuration.format(slow))", at: now)
            perform(hot, replicas[hot].holder.stop(now: localNow(hot)))
            queue.schedule(.endFault(.crashAfterStop(hot, generation: replicas[hot].generation)),
                           at: now + .milliseconds(Int64.random(in: 1...30, using: &random)))
        } else {
            let target = eligible[Int.random(in: 0..<eligible.count, using: &random)]
            trace.record("MOVE the lease from \(replicas[hot].id) to \(replicas[target].id), its write with token \(token) "
                + "arrives in \(GoDuration.format(slow))", at: now)
            propose(from: hot, .move(Self.group, to: replicas[target].id), sentAt: nil)
        }
        queue.schedule(.finish, at: now + options.drainTimeout + .seconds(3))
    }
}
