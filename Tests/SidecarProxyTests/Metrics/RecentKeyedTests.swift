import Testing
@testable import SidecarProxy

// MARK: - The counters' last-entry shortcut

@Suite struct RecentKeyedTests {
    /// The same counts as a plain dictionary, whatever the order of keys: repeats (the shortcut),
    /// alternations and new keys (inserts that move entries and replace the shortcut).
    @Test func countsAsAPlainDictionaryDoes() {
        var keyed = RecentKeyed<String, Int>()
        var plain: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        let keys = (0..<40).map { "key-\($0)-\(String(repeating: "x", count: $0 % 20))" }
        for step in 0..<5_000 {
            // Runs of one key, then a jump to any key (often one never seen before).
            let key = step % 7 == 0 ? keys[Int.random(in: 0..<keys.count, using: &generator)] : keys[step / 7 % keys.count]
            keyed.update(key, initial: 0) { $0 += 1 }
            plain[key, default: 0] += 1
        }
        #expect(keyed.entries == plain)
    }

    @Test func aNewKeyStartsFromItsInitialValue() {
        var keyed = RecentKeyed<String, [Int]>()
        keyed.update("a", initial: [7]) { $0.append(1) }
        keyed.update("a", initial: [100]) { $0.append(2) }
        keyed.update("b", initial: [9]) { $0.append(3) }
        keyed.update("a", initial: [100]) { $0.append(4) }
        #expect(keyed.entries == ["a": [7, 1, 2, 4], "b": [9, 3]])
    }
}
