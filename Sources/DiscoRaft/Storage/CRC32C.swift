// MARK: - CRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), computed slicing-by-8 with tables
/// built once. Used to detect torn and corrupt log records.
public enum CRC32C {
    private static let tables: [[UInt32]] = {
        var tables = Array(repeating: Array(repeating: UInt32(0), count: 256), count: 8)
        for byte in 0..<256 {
            var crc = UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
            tables[0][byte] = crc
        }
        for byte in 0..<256 {
            var crc = tables[0][byte]
            for slice in 1..<8 {
                crc = (crc >> 8) ^ tables[0][Int(crc & 0xFF)]
                tables[slice][byte] = crc
            }
        }
        return tables
    }()

    /// The checksum of `bytes`, continuing from `previous` (the checksum of earlier bytes).
    public static func checksum<Bytes: Collection>(_ bytes: Bytes, continuing previous: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        if let result = bytes.withContiguousStorageIfAvailable({ update(previous, $0) }) { return result }
        return Array(bytes).withUnsafeBufferPointer { update(previous, $0) }
    }

    private static func update(_ previous: UInt32, _ buffer: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var crc = ~previous
        var position = 0
        let count = buffer.count
        let t0 = tables[0], t1 = tables[1], t2 = tables[2], t3 = tables[3]
        let t4 = tables[4], t5 = tables[5], t6 = tables[6], t7 = tables[7]
        while count - position >= 8 {
            let low = crc ^ (UInt32(buffer[position]) | UInt32(buffer[position + 1]) << 8
                | UInt32(buffer[position + 2]) << 16 | UInt32(buffer[position + 3]) << 24)
            crc = t7[Int(low & 0xFF)] ^ t6[Int((low >> 8) & 0xFF)] ^ t5[Int((low >> 16) & 0xFF)] ^ t4[Int(low >> 24)]
                ^ t3[Int(buffer[position + 4])] ^ t2[Int(buffer[position + 5])]
                ^ t1[Int(buffer[position + 6])] ^ t0[Int(buffer[position + 7])]
            position += 8
        }
        while position < count {
            crc = (crc >> 8) ^ t0[Int((crc ^ UInt32(buffer[position])) & 0xFF)]
            position += 1
        }
        return ~crc
    }
}
