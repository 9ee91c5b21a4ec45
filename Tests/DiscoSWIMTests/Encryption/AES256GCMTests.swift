@testable import DiscoSWIM
import Testing

// MARK: - AES-256-GCM known answers

/// The AES-256 test cases of the GCM specification (McGrew and Viega, the test vectors NIST's
/// GCM validation starts from): cases 13–16, with and without associated data.
@Suite struct AES256GCMTests {
    struct Vector: Sendable, CustomStringConvertible {
        var name: String
        var key: String
        var nonce: String
        var plaintext: String
        var associatedData: String
        var ciphertext: String
        var tag: String
        var description: String { name }
    }

    static let gcmKey = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    static let longPlaintext = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
    static let longCiphertext = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
        + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"

    static let vectors: [Vector] = [
        Vector(name: "case 13: empty plaintext, zero key", key: String(repeating: "00", count: 32), nonce: String(repeating: "00", count: 12),
               plaintext: "", associatedData: "", ciphertext: "", tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        Vector(name: "case 14: one zero block", key: String(repeating: "00", count: 32), nonce: String(repeating: "00", count: 12),
               plaintext: String(repeating: "00", count: 16), associatedData: "",
               ciphertext: "cea7403d4d606b6e074ec5d3baf39d18", tag: "d0d1c8a799996bf0265b98b5d48ab919"),
        Vector(name: "case 15: four blocks", key: gcmKey, nonce: "cafebabefacedbaddecaf888", plaintext: longPlaintext, associatedData: "",
               ciphertext: longCiphertext, tag: "b094dac5d93471bdec1a502270e3cc6c"),
        Vector(name: "case 16: partial block with associated data", key: gcmKey, nonce: "cafebabefacedbaddecaf888",
               plaintext: String(longPlaintext.dropLast(8)), associatedData: "feedfacedeadbeeffeedfacedeadbeefabaddad2",
               ciphertext: String(longCiphertext.dropLast(8)), tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
    ]

    @Test(arguments: vectors)
    func sealsToTheKnownAnswer(_ vector: Vector) throws {
        var output: [UInt8] = [0xAA]  // sealing appends after what is there
        try AES256GCM.seal(hex(vector.plaintext), key: hex(vector.key), nonce: hex(vector.nonce),
                           associatedData: hex(vector.associatedData), appendingTo: &output)
        #expect(output == [0xAA] + hex(vector.ciphertext) + hex(vector.tag))
    }

    @Test(arguments: vectors)
    func opensTheKnownAnswerAndRejectsAnyChange(_ vector: Vector) {
        let sealed = hex(vector.ciphertext) + hex(vector.tag)
        #expect(open(sealed, vector) == hex(vector.plaintext))
        for index in sealed.indices {
            var altered = sealed
            altered[index] ^= 0x01
            #expect(open(altered, vector) == nil, "byte \(index) flipped still opened")
        }
        var otherData = vector
        otherData.associatedData += "00"
        #expect(open(sealed, otherData) == nil)
        var otherNonce = vector
        otherNonce.nonce = String(repeating: "11", count: 12)
        #expect(open(sealed, otherNonce) == nil)
        #expect(open(Array(sealed.dropLast()), vector) == nil)
    }

    @Test func inputShorterThanTheTagDoesNotOpen() {
        for count in 0..<AES256GCM.tagByteCount {
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 1)
            defer { output.deallocate() }
            let key = [UInt8](repeating: 1, count: 32), nonce = [UInt8](repeating: 2, count: 12)
            let opened = [UInt8](repeating: 0, count: count).withUnsafeBytes { sealed in
                key.withUnsafeBytes { k in nonce.withUnsafeBytes { n in
                    AES256GCM.open(sealed, key: k, nonce: n, associatedData: UnsafeRawBufferPointer(start: nil, count: 0), into: output)
                } }
            }
            #expect(!opened)
        }
    }

    @Test func randomBytesDiffer() throws {
        let first = try SecureRandom.bytes(12), second = try SecureRandom.bytes(12)
        #expect(first.count == 12 && first != second)
        #expect(try SecureRandom.bytes(0).isEmpty)
    }

    @Test func sha256KnownAnswer() {
        #expect(SHA256Digest.hash(Array("abc".utf8)) == hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
    }

    func open(_ sealed: [UInt8], _ vector: Vector) -> [UInt8]? {
        guard sealed.count >= AES256GCM.tagByteCount else { return nil }
        var output = [UInt8](repeating: 0, count: sealed.count - AES256GCM.tagByteCount)
        let key = hex(vector.key), nonce = hex(vector.nonce), aad = hex(vector.associatedData)
        let opened = sealed.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                key.withUnsafeBytes { k in nonce.withUnsafeBytes { n in aad.withUnsafeBytes { a in
                    AES256GCM.open(input, key: k, nonce: n, associatedData: a, into: out)
                } } }
            }
        }
        return opened ? output : nil
    }
}

/// Bytes from hex digits (test vectors are written that way).
func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).map { index in
        UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16) ?? 0
    }
}
