import DiscoCore
@testable import NodeRuntime
import Testing

// MARK: - Who may move a member in the address book

@Suite struct AddressBookTests {
    let a = PeerAddress(host: "10.0.0.2", port: 4002), aAPI = PeerAddress(host: "10.0.0.2", port: 4001)
    let b = PeerAddress(host: "10.0.0.9", port: 4002), bAPI = PeerAddress(host: "10.0.0.9", port: 4001)

    func book() -> AddressBook {
        AddressBook(local: "1", raftAddress: PeerAddress(host: "10.0.0.1", port: 4002), apiAddress: PeerAddress(host: "10.0.0.1", port: 4001),
                    voter: true)
    }

    @Test func unprovenObservationsFillUnknownNodesOnly() {
        let book = book()
        #expect(book.learn("2", raftAddress: a, apiAddress: aAPI, voter: true, source: .gossip))
        #expect(book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, source: .notify))  // unproven over unproven
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, keyHash: [1], previous: nil)
        #expect(book.entry("2")?.source == .replicated)
        for source in [AddressBook.Source.gossip, .notify, .join] {
            #expect(!book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, source: source), "\(source)")
            #expect(book.raftAddress("2") == a, "\(source) moved a replicated member")
        }
        #expect(book.entry("2")?.keyHash == [1])
    }

    @Test func provenObservationsMoveMembersUntilTheLeaderRecordsThem() {
        let book = book()
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, previous: nil)
        #expect(book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, source: .proven))
        // Replaying an old record (a restart applying its log) does not move it back...
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, previous: nil)
        #expect(book.raftAddress("2") == b)
        #expect(book.entry("2")?.source == .proven)
        // ...the committed change does, and so does a later one that replaces the stale record.
        book.learnReplicated("2", raftAddress: b, apiAddress: bAPI, voter: true, previous: (a, aAPI))
        #expect(book.entry("2")?.source == .replicated)
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, previous: (b, bAPI))
        #expect(book.raftAddress("2") == a)
    }

    @Test func theLocalEntryNeverMoves() {
        let book = book()
        #expect(!book.learn("1", raftAddress: a, apiAddress: aAPI, voter: true, source: .proven))
        #expect(book.raftAddress("1") == PeerAddress(host: "10.0.0.1", port: 4002))
    }
}

// MARK: - Generations in the address book

@Suite struct AddressBookGenerationTests {
    let a = PeerAddress(host: "10.0.0.2", port: 4002), aAPI = PeerAddress(host: "10.0.0.2", port: 4001)
    let b = PeerAddress(host: "10.0.0.9", port: 4002), bAPI = PeerAddress(host: "10.0.0.9", port: 4001)

    func book() -> AddressBook {
        AddressBook(local: "1", raftAddress: PeerAddress(host: "10.0.0.1", port: 4002), apiAddress: PeerAddress(host: "10.0.0.1", port: 4001),
                    voter: true, generation: 3)
    }

    @Test func aLateProvenRequestOfAnOlderGenerationDoesNotMoveTheNode() {
        let book = book()
        #expect(book.entry("1")?.generation == 3)
        #expect(book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, generation: 8, source: .proven))
        #expect(!book.learn("2", raftAddress: a, apiAddress: aAPI, voter: true, generation: 7, source: .proven))
        #expect(book.raftAddress("2") == b)
        #expect(book.entry("2")?.generation == 8)
        // Unknown generations (older senders) keep the previous rules; a later generation moves it.
        #expect(book.learn("2", raftAddress: a, apiAddress: aAPI, voter: true, generation: 9, source: .proven))
        #expect(book.entry("2")?.generation == 9)
    }

    @Test func aReplicatedRecordOfAnOlderGenerationDoesNotMoveTheNewerEntry() {
        let book = book()
        #expect(book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, generation: 8, source: .proven))
        // The old record is replaced in the state (previous = the old addresses) by another old one.
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, generation: 7, previous: (b, bAPI))
        #expect(book.raftAddress("2") == b)
        #expect(book.entry("2")?.source == .proven)
        book.learnReplicated("2", raftAddress: b, apiAddress: bAPI, voter: true, generation: 8, previous: (a, aAPI))
        #expect(book.entry("2")?.source == .replicated)
        #expect(book.entry("2")?.generation == 8)
        // A record of a later generation replaces a trusted entry at once.
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, generation: 9, previous: nil)
        #expect(book.raftAddress("2") == a)
    }

    @Test func anUnprovenClaimOfAHighGenerationPinsNothing() {
        let book = book()
        #expect(book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, generation: .max, source: .notify))
        book.learnReplicated("2", raftAddress: a, apiAddress: aAPI, voter: true, generation: 4, previous: nil)
        #expect(book.raftAddress("2") == a)
        #expect(book.learn("2", raftAddress: b, apiAddress: bAPI, voter: true, generation: 5, source: .proven))
        #expect(!book.learn("2", raftAddress: a, apiAddress: aAPI, voter: true, generation: .max, source: .join))
        #expect(book.raftAddress("2") == b)
    }
}
