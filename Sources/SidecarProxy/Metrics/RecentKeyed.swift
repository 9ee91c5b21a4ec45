// MARK: - A dictionary that finds its last entry again without hashing

/// Counters keyed by labels, where the key updated last is usually the next one too (the same
/// route, method, status and upstream, request after request): that entry is found again by
/// comparing keys, without hashing them. Any other key takes the dictionary as usual.
struct RecentKeyed<Key: Hashable, Value> {
    private(set) var entries: [Key: Value] = [:]
    /// The key updated last and where it is; inserting a key moves entries, so every insert
    /// replaces it.
    private var recent: (key: Key, index: Dictionary<Key, Value>.Index)?

    /// Runs `body` on the value for `key`, inserting `initial` first when there is none.
    mutating func update(_ key: Key, initial: @autoclosure () -> Value, _ body: (inout Value) -> Void) {
        if let recent, recent.key == key {
            body(&entries.values[recent.index])
            return
        }
        if entries.index(forKey: key) == nil { entries[key] = initial() }
        guard let index = entries.index(forKey: key) else { return }
        recent = (key, index)
        body(&entries.values[index])
    }
}
