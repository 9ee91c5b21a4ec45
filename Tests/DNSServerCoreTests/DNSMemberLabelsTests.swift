import DNSServerCore
import DiscoCore
import Testing

/// Member IDs as DNS labels: the documented mapping.
@Suite struct DNSMemberLabelsTests {
    @Test func hostNameLabelsAreUsedInLowerCase() {
        #expect(DNSMemberLabels.plainLabel(for: "disco-0") == "disco-0")
        #expect(DNSMemberLabels.plainLabel(for: "Node1") == "node1")
        #expect(DNSMemberLabels.plainLabel(for: "1") == "1")
        for id: NodeID in ["node_1", "-a", "a-", "10.0.0.1:4002", "ü", NodeID(String(repeating: "a", count: 64))!] {
            #expect(DNSMemberLabels.plainLabel(for: id) == nil, "\(id)")
        }
    }

    @Test func otherIDsAreMappedToASanitizedPrefixAndAHash() {
        let mapped = DNSMemberLabels.mappedLabel(for: "node_1")
        #expect(mapped.hasPrefix("node-1-") && mapped.count == 7 + 8)
        #expect(DNSMemberLabels.mappedLabel(for: "10.0.0.1:4002").hasPrefix("10-0-0-1-4002-"))
        #expect(DNSMemberLabels.mappedLabel(for: "üü").hasPrefix("id-"))
        #expect(DNSMemberLabels.mappedLabel(for: "__x__").hasPrefix("x-"))
        let long = DNSMemberLabels.mappedLabel(for: NodeID(String(repeating: "ab_", count: 60))!)
        #expect(long.count <= 63 && !long.contains("--"))
        #expect(DNSMemberLabels.mappedLabel(for: "node_1") != DNSMemberLabels.mappedLabel(for: "node.1"), "the hash tells them apart")
        // Stable across runs and releases: FNV-1a of the ID's bytes.
        #expect(DNSMemberLabels.mappedLabel(for: "a_b") == "a-b-" + String(DNSMemberLabelsTests.fnv("a_b"), radix: 16).leftPadded(8))
        for label in [mapped, long] {
            #expect(DNSZoneSettings.isHostnameLabel(Array(label.utf8)), "\(label)")
        }
    }

    @Test func collisionsGoToTheLaterIDInByteOrder() {
        let (labels, unnamed) = DNSMemberLabels.assign(["a", "A", "b"])
        #expect(labels["A"] == "a", "\"A\" sorts before \"a\"")
        #expect(labels["a"] == DNSMemberLabels.mappedLabel(for: "a"))
        #expect(labels["b"] == "b" && unnamed.isEmpty)
    }

    @Test func aMemberWithNoFreeLabelIsReported() {
        // In byte order: "A" takes "a"; "A-<hash of a>" takes the label "a" would map to; "a" has none left.
        let squatter = NodeID(DNSMemberLabels.mappedLabel(for: "a").uppercased())!
        let (labels, unnamed) = DNSMemberLabels.assign(["a", "A", squatter])
        #expect(labels["A"] == "a" && labels[squatter] == DNSMemberLabels.mappedLabel(for: "a") && labels["a"] == nil)
        #expect(unnamed.count == 1 && unnamed[0].description.contains("no DNS name"), "\(unnamed)")
    }

    static func fnv(_ text: String) -> UInt32 {
        text.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
