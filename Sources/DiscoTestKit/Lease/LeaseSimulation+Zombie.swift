import DiscoCore
import LeaseCore

// MARK: - Zombies: a replaced process that runs on

/// A process of a replica that was replaced by a new process with the same node ID while it kept
/// running, cut off from the cluster: a Kubernetes StatefulSet pod force-deleted while its node
/// is partitioned, so that a pod with the same name starts elsewhere. It keeps its clock, its
/// ``LeaseHolder`` and its writes to the fenced backend (which it may still reach), hears nothing
/// from the cluster but the answers to renewals it sent before it was cut off, and its new
/// proposals are lost. It is checked like any replica: while it believes it is hot, nobody else
/// may.
struct LeaseZombie {
    /// The replica slot whose node ID it has (a new process runs there now).
    let node: Int
    /// Its process's generation: answers and writes addressed to it carry it.
    let generation: Int
    var clock: DriftingClock
    var holder: LeaseHolder
    var holderArm: (id: UInt64, deadline: Duration)?
}

extension LeaseSimulation {
    /// Replaces `node`'s process by a new one (after `restartAfter`) while the old one runs on as
    /// a zombie until `diesAfter` (or the faults heal).
    mutating func zombify(_ node: Int, restartAfter: Duration, diesAfter: Duration) {
        let replica = replicas[node]
        zombies.append(LeaseZombie(node: node, generation: replica.generation, clock: replica.clock, holder: replica.holder,
                                   holderArm: replica.holderArm))
        trace.record("FAULT \(replica.id) is cut off and a new process of it starts in \(GoDuration.format(restartAfter)); "
            + "the old one runs on for \(GoDuration.format(diesAfter))"
            + (replica.holder.heldToken.map { " (it holds token \($0))" } ?? ""), at: now)
        crash(node)
        queue.schedule(.endFault(.restart(node)), at: now + restartAfter)
        queue.schedule(.endFault(.zombieDies(node, generation: replica.generation)), at: now + diesAfter)
    }

    mutating func zombieDies(_ node: Int, generation: Int) {
        guard let index = zombies.firstIndex(where: { $0.node == node && $0.generation == generation }) else { return }
        zombies.remove(at: index)
        trace.record("the old process of \(replicas[node].id) ends", at: now)
    }

    /// The zombie an event is addressed to, if any.
    func zombie(for event: Event) -> Int? {
        switch event {
        case .holderTimer(_, let arm): zombies.firstIndex { $0.holderArm?.id == arm }
        case .answer(let node, let generation, _, _, _), .write(let node, let generation):
            zombies.firstIndex { $0.node == node && $0.generation == generation }
        default: nil
        }
    }

    mutating func handle(_ event: Event, atZombie index: Int) {
        let local = zombies[index].clock.local(at: now)
        switch event {
        case .holderTimer:
            zombies[index].holderArm = nil
            performZombie(index, zombies[index].holder.tick(now: local))
        case .answer(_, _, let command, let sentAt, let result):
            guard case .renew(_, _, _, let token, _) = command else { return }
            if case .renewed? = result {
                performZombie(index, zombies[index].holder.renewed(token: token, sentAt: sentAt, now: local))
            } else {
                let refusal: LeaseRefusal? = if case .refused(_, let refusal)? = result { refusal } else { nil }
                performZombie(index, zombies[index].holder.renewalFailed(token: token, sentAt: sentAt, refusal: refusal, now: local))
            }
        case .write(let node, let generation):
            queue.schedule(.write(node, generation: generation), at: now + .milliseconds(Int64.random(in: 15...35, using: &random)))
            if let token = zombies[index].holder.token(at: local) {
                queue.schedule(.backendWrite(token: token, from: node, write: nil), at: now + delay())
            }
        default:
            break
        }
    }

    /// A zombie's effects: its proposals are lost (it is cut off); its timer and transitions count.
    mutating func performZombie(_ index: Int, _ effects: [LeaseHolder.Effect]) {
        let name = "the old process of \(replicas[zombies[index].node].id)"
        for effect in effects {
            switch effect {
            case .proposeRenewal, .proposeRelease: break
            case .becomeHot(let token): trace.record("\(name) becomes hot with token \(token)", at: now)
            case .becomeCold(let token, let reason): trace.record("\(name) becomes cold (token \(token), \(reason))", at: now)
            case .suspend(let token): trace.record("\(name) suspends (token \(token)): renew deadline passed", at: now)
            case .resume(let token): trace.record("\(name) resumes acting with token \(token)", at: now)
            case .awaitWritesInFlight(let token):
                // Nothing of a zombie is in flight for long: its (lost) release follows at once.
                performZombie(index, zombies[index].holder.writesDrained(token: token, now: zombies[index].clock.local(at: now)))
            case .arm(let deadline):
                guard zombies[index].holderArm?.deadline != deadline else { continue }
                let id = nextArm
                nextArm += 1
                zombies[index].holderArm = (id, deadline)
                queue.schedule(.holderTimer(zombies[index].node, arm: id), at: zombies[index].clock.real(atLocal: deadline, notBefore: now))
            }
        }
    }

    /// The zombies that believe they are hot now, with their node IDs and tokens.
    func hotZombies() -> [(node: NodeID, token: UInt64)] {
        zombies.compactMap { zombie in
            zombie.holder.token(at: zombie.clock.local(at: now)).map { (replicas[zombie.node].id, $0) }
        }
    }
}
