// MARK: - TLSRecordSplitter

/// Cuts a TLS byte stream into whole records (a 5-byte header: content type, version, length),
/// for test relays that pass, drop or count records by type (20 change cipher spec, 21 alert,
/// 22 handshake, 23 application data).
struct TLSRecordSplitter {
    private var pending: [UInt8] = []

    /// Takes `bytes` read from the stream and returns the records they complete, in order.
    mutating func records(adding bytes: [UInt8]) -> [[UInt8]] {
        pending += bytes
        var records: [[UInt8]] = []
        while pending.count >= 5 {
            let length = Int(pending[3]) << 8 | Int(pending[4])
            guard pending.count >= 5 + length else { break }
            records.append(Array(pending[0..<(5 + length)]))
            pending.removeFirst(5 + length)
        }
        return records
    }

    /// The content types of the whole records in `bytes` (a trailing partial record is left out).
    static func recordTypes(_ bytes: [UInt8]) -> [UInt8] {
        var splitter = TLSRecordSplitter()
        return splitter.records(adding: bytes).map { $0[0] }
    }
}
