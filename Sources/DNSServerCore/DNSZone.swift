import DiscoCore

// MARK: - A zone snapshot, compiled

/// An immutable snapshot of the zone, compiled for answering: every name's answers are kept as
/// wire bytes behind a hash table of lower-case names, so answering a query copies bytes and
/// allocates nothing. Build a new snapshot whenever membership, roles or the leader change, and
/// hand it to the server (``DNSAnswerer`` answers from whichever snapshot it is given).
public final class DNSZone: Sendable {
    /// The records the snapshot serves, by name.
    public let contents: DNSZoneContents

    /// The zone's settings (domain, TTLs).
    public var settings: DNSZoneSettings { contents.settings }
    /// Each member's `<label>.node.<domain>` name.
    public var memberNames: [NodeID: DNSName] { contents.memberNames }
    /// Members and roles the snapshot could not serve, and why.
    public var omissions: [DNSZoneOmission] { contents.omissions }

    // MARK: Compiled form

    /// The apex in lower-case wire form, and its label count.
    let apexWire: [UInt8]
    let apexLabelCount: Int
    /// Lower-case wire names of every entry, back to back.
    let nameBytes: [UInt8]
    let entries: [NameEntry]
    /// Open addressing with linear probing: entry indexes, -1 for an empty slot.
    let slots: [Int32]
    let slotMask: Int
    /// Answer bodies back to back, the end offset of every record in them, and the answers.
    let bodies: [UInt8]
    let recordEnds: [Int32]
    let answers: [CompiledAnswer]
    /// The SOA record of negative answers.
    let negativeSOA: NegativeSOA

    /// Builds and compiles the snapshot for `source`.
    public convenience init(settings: DNSZoneSettings, source: DNSZoneSource) {
        self.init(contents: DNSZoneContents(settings: settings, source: source))
    }

    /// Compiles `contents`.
    public init(contents: DNSZoneContents) {
        self.contents = contents
        var compiler = ZoneCompiler(contents: contents)
        compiler.compileAll()
        apexWire = contents.settings.domain.wireBytes
        apexLabelCount = contents.settings.domain.labels.count
        nameBytes = compiler.nameBytes
        entries = compiler.entries
        (slots, slotMask) = Self.table(for: compiler.entries)
        bodies = compiler.bodies
        recordEnds = compiler.recordEnds
        answers = compiler.answers
        negativeSOA = NegativeSOA(soa: contents.soa, apex: contents.settings.domain)
    }

    /// A zone with nothing but its apex (SOA): what a server serves before it knows the cluster.
    public static func empty(_ settings: DNSZoneSettings) -> DNSZone {
        DNSZone(settings: settings, source: DNSZoneSource(members: []))
    }

    private static func table(for entries: [NameEntry]) -> ([Int32], Int) {
        var capacity = 16
        while capacity < entries.count * 2 { capacity *= 2 }
        var slots = [Int32](repeating: -1, count: capacity)
        let mask = capacity - 1
        for (index, entry) in entries.enumerated() {
            var slot = Int(entry.hash) & mask
            while slots[slot] != -1 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index)
        }
        return (slots, mask)
    }

    // MARK: Lookup

    /// The entry for the wire name at `name` (any case), given its hash; nil when the zone has
    /// no such name.
    func entryIndex(name: UnsafeRawBufferPointer, hash: UInt32) -> Int? {
        slots.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { entries in
                nameBytes.withUnsafeBufferPointer { stored in
                    var slot = Int(hash) & slotMask
                    while true {
                        let index = Int(slots[slot])
                        if index < 0 { return nil }
                        let entry = entries[index]
                        if entry.hash == hash, entry.nameLength == name.count,
                            Self.equalIgnoringCase(name, stored, from: entry.nameStart) {
                            return index
                        }
                        slot = (slot + 1) & slotMask
                    }
                }
            }
        }
    }

    @inline(__always)
    private static func equalIgnoringCase(_ name: UnsafeRawBufferPointer, _ stored: UnsafeBufferPointer<UInt8>, from start: Int) -> Bool {
        for offset in 0..<name.count where DNSWireCase.lower(name[offset]) != stored[start + offset] {
            return false
        }
        return true
    }

    /// Whether the wire name `name` (`labelCount` labels) is the apex or below it.
    func isInZone(_ name: UnsafeRawBufferPointer, labelCount: Int) -> Bool {
        guard labelCount >= apexLabelCount, name.count >= apexWire.count else { return false }
        // Skip the labels in front of the apex; the rest must be the apex, in any case.
        var offset = 0
        for _ in 0..<(labelCount - apexLabelCount) { offset += 1 + Int(name[offset]) }
        guard name.count - offset == apexWire.count else { return false }
        return apexWire.withUnsafeBufferPointer { apex in
            for index in 0..<apex.count where DNSWireCase.lower(name[offset + index]) != apex[index] { return false }
            return true
        }
    }
}

// MARK: - The SOA of negative answers

/// The pieces of the authority SOA record of NXDOMAIN and NODATA answers. Its owner, and the
/// apex at the end of its two names, are pointers to the apex's place in the question, which
/// depends on the question's length: the record is written per answer from these pieces.
struct NegativeSOA: Sendable {
    /// Wire labels of the primary server and of the mailbox in front of the apex.
    let primaryPrefix: [UInt8]
    let mailboxPrefix: [UInt8]
    /// min(SOA TTL, MINIMUM) (RFC 2308 §3).
    let ttl: UInt32
    /// Serial, refresh, retry, expire and minimum, in wire order.
    let timers: [UInt8]

    /// Owner pointer, type, class, TTL, RDLENGTH, the two names (prefix + pointer) and 20 bytes.
    var recordLength: Int { 12 + rdataLength }
    var rdataLength: Int { primaryPrefix.count + 2 + mailboxPrefix.count + 2 + 20 }

    init(soa: DNSResourceRecord, apex: DNSName) {
        guard case .soa(let data) = soa.data else {
            primaryPrefix = []
            mailboxPrefix = []
            ttl = 0
            timers = [UInt8](repeating: 0, count: 20)
            return
        }
        func prefix(_ name: DNSName) -> [UInt8] {
            let wire = name.wireBytes
            return Array(wire.prefix(max(0, wire.count - apex.wireLength)))
        }
        primaryPrefix = prefix(data.primaryServer)
        mailboxPrefix = prefix(data.responsible)
        ttl = min(soa.ttl, data.minimum)
        var timers: [UInt8] = []
        for value in [data.serial, data.refresh, data.retry, data.expire, data.minimum] {
            timers += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
        }
        self.timers = timers
    }
}
