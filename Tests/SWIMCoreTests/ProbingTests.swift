import DiscoCore
import Testing
@testable import SWIMCore

// MARK: - Probing

@Suite struct ProbingTests {
    @Test func startArmsPeriodicTimersAndNoRepeatingTimer() throws {
        var a = try makeInstance()
        let effects = a.start(now: .zero)
        #expect(Set(effects.timers) == [.protocolPeriod, .pushPull, .reconnect, .reap])
        let first = try #require(effects.deadline(.protocolPeriod))
        #expect(first < ms(200))
        #expect(a.start(now: ms(1)).isEmpty)
    }

    @Test func probeGetsAckAndSchedulesTheNextPeriod() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        let probeResult = a.probe(now: ms(200))
        let probe = try #require(probeResult)
        #expect(probe.effects.sends.count == 1)
        #expect(probe.effects.sends[0].to == address(probe.target.rawValue))
        #expect(probe.effects.deadline(.protocolPeriod) == ms(400))
        #expect(probe.effects.deadline(.directProbeTimeout(sequence: probe.sequence)) == ms(280))
        let afterAck = a.received(SWIM.Packet(message: .ack(sequence: probe.sequence, source: probe.target)),
                                  from: address(probe.target.rawValue), now: ms(202))
        #expect(afterAck.sends.isEmpty)
        // The direct timeout is now stale: no indirect probes.
        #expect(a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: ms(280)).sends.isEmpty)
        let next = a.timerFired(.protocolPeriod, now: ms(400))
        #expect(next.events.isEmpty)
        #expect(a.localHealthMultiplier == 0)
    }

    @Test func roundRobinVisitsEveryMemberOncePerPass() throws {
        var a = try makeInstance(others: ["b", "c", "d", "e", "f", "g"])
        _ = a.start(now: .zero)
        var targets: [NodeID] = []
        var now = ms(200)
        for _ in 0..<12 {
            let probeResult = a.probe(now: now)
        let probe = try #require(probeResult)
            targets.append(probe.target)
            _ = a.received(SWIM.Packet(message: .ack(sequence: probe.sequence, source: probe.target)), from: address(probe.target.rawValue), now: now + ms(1))
            now += ms(200)
        }
        #expect(Set(targets.prefix(6)).count == 6)
        #expect(Set(targets.suffix(6)).count == 6)
        #expect(!targets.contains(node("a")))
    }

    @Test func directTimeoutAsksThreeHelpersWithTheTargetAddress() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        let probeResult = a.probe(now: ms(200))
        let probe = try #require(probeResult)
        let effects = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: ms(280))
        let requests = effects.sends.filter {
            if case .pingRequest(probe.sequence, node("a"), probe.target, address(probe.target.rawValue)) = $0.packet.message { true } else { false }
        }
        #expect(requests.count == 3)
        #expect(Set(requests.map(\.to)).count == 3)
        #expect(!requests.contains { $0.to == address(probe.target.rawValue) })
    }

    @Test func failedProbeWithOneNackSuspectsAndRaisesHealthByMissingNacks() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        let probeResult = a.probe(now: ms(200))
        let probe = try #require(probeResult)
        let requests = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: ms(280)).sends
        _ = a.received(SWIM.Packet(message: .nack(sequence: probe.sequence)), from: requests[0].to, now: ms(370))
        let end = a.timerFired(.protocolPeriod, now: ms(400))
        #expect(end.events.contains { if case .suspect(let m) = $0 { m.id == probe.target } else { false } })
        #expect(a.member(probe.target)?.status == .suspect)
        #expect(a.localHealthMultiplier == 2)
        // Lifeguard: the next period and probe timeout are stretched by LHM + 1 = 3.
        #expect(end.deadline(.protocolPeriod) == ms(400) + ms(600))
        #expect(a.currentProbeTimeout == ms(240))
    }

    @Test func failedProbeWithAllNacksDoesNotBlameUs() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        let probeResult = a.probe(now: ms(200))
        let probe = try #require(probeResult)
        let requests = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: ms(280)).sends
        for request in requests {
            _ = a.received(SWIM.Packet(message: .nack(sequence: probe.sequence)), from: request.to, now: ms(370))
        }
        _ = a.timerFired(.protocolPeriod, now: ms(400))
        #expect(a.localHealthMultiplier == 0)
        #expect(a.member(probe.target)?.status == .suspect)
    }

    @Test func indirectAckCountsAsSuccessAndLowersHealth() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        // Raise LHM first with two failed probes that get no nacks.
        var now = ms(200)
        for _ in 0..<2 {
            let probeResult = a.probe(now: now)
        let probe = try #require(probeResult)
            _ = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: now + ms(80))
            now += a.currentProbeInterval
        }
        let probeResult = a.probe(now: now)
        let probe = try #require(probeResult)
        let before = a.localHealthMultiplier
        #expect(before >= 3)
        let requests = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: now + a.currentProbeTimeout).sends
        _ = a.received(SWIM.Packet(message: .ack(sequence: probe.sequence, source: probe.target)), from: requests[0].to, now: now + ms(300))
        #expect(a.localHealthMultiplier == before - 1)
    }

    @Test func healthMultiplierSaturatesAtItsMaximum() throws {
        var a = try makeInstance()
        _ = a.start(now: .zero)
        var now = ms(200)
        for _ in 0..<10 {
            let probeResult = a.probe(now: now)
        let probe = try #require(probeResult)
            _ = a.timerFired(.directProbeTimeout(sequence: probe.sequence), now: now + a.currentProbeTimeout)
            now += a.currentProbeInterval
            // Keep every member alive so probing goes on.
            for name in ["b", "c", "d", "e"] {
                let inc = (a.member(node(name))?.incarnation ?? 0) + 1
                _ = a.hear([.alive(id: node(name), incarnation: inc, address: address(name), metadata: SWIM.Metadata())], from: name, now: now)
            }
        }
        #expect(a.localHealthMultiplier == 8)
        #expect(a.currentProbeInterval == ms(200) * 9)
    }

    @Test func helperRelaysAckOrAnswersWithNack() throws {
        var h = try makeInstance("h", others: ["o", "t"])
        let request = SWIM.Packet(message: .pingRequest(sequence: 41, source: node("o"), target: node("t"), targetAddress: address("t")))
        let effects = h.received(request, from: address("o"), now: ms(10))
        let ping = try #require(effects.sends.first)
        #expect(ping.to == address("t"))
        let relaySequence = try #require(ping.packet.message.pingSequence)
        #expect(effects.deadline(.relayTimeout(sequence: relaySequence)) == ms(90))
        let forwarded = h.received(SWIM.Packet(message: .ack(sequence: relaySequence, source: node("t"))), from: address("t"), now: ms(12))
        #expect(forwarded.sends.count == 1)
        #expect(forwarded.sends[0].to == address("o"))
        #expect(forwarded.sends[0].packet.message == .ack(sequence: 41, source: node("h")))
        #expect(h.timerFired(.relayTimeout(sequence: relaySequence), now: ms(90)).sends.isEmpty)

        // Second request: the target stays silent, the helper nacks.
        let second = h.received(SWIM.Packet(message: .pingRequest(sequence: 42, source: node("o"), target: node("t"), targetAddress: address("t"))),
                                from: address("o"), now: ms(20))
        let relay2 = try #require(second.sends.first?.packet.message.pingSequence)
        let nack = h.timerFired(.relayTimeout(sequence: relay2), now: ms(100))
        #expect(nack.sends.map(\.packet.message) == [.nack(sequence: 42)])
        #expect(nack.sends.map(\.to) == [address("o")])
    }

    @Test func pingForSomeoneElseIsNotAcknowledged() throws {
        var a = try makeInstance()
        let effects = a.received(SWIM.Packet(message: .ping(sequence: 3, source: node("b"), target: node("zz"))), from: address("b"), now: ms(1))
        #expect(effects.sends.isEmpty)
        let ack = a.received(SWIM.Packet(message: .ping(sequence: 4, source: node("b"), target: node("a"))), from: address("b"), now: ms(2))
        #expect(ack.sends.map(\.packet.message) == [.ack(sequence: 4, source: node("a"))])
    }
}
