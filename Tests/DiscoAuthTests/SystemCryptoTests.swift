import DiscoAuth
import DiscoCore
import Testing

// MARK: - libcrypto, checked against published test vectors

@Suite struct SystemCryptoTests {
    func hex(_ text: String) -> [UInt8] { [UInt8](hex: text.filter { $0 != " " }) ?? [] }

    @Test func sha256KnownAnswer() throws {
        #expect(try SystemCrypto.sha256(Array("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    /// RFC 7914 §11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64.
    @Test func pbkdf2KnownAnswer() throws {
        let key = try SystemCrypto.pbkdf2SHA256(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64)
        #expect(key == hex("55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc"
            + " 49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31 7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83"))
    }

    /// RFC 7914 §12: scrypt, P = "password", S = "NaCl", N = 1024, r = 8, p = 16, dkLen = 64.
    @Test func scryptKnownAnswer() throws {
        let key = try SystemCrypto.scrypt(password: Array("password".utf8), salt: Array("NaCl".utf8), logN: 10, blockSize: 8,
                                          parallelism: 16, length: 64, maxMemory: 64 << 20)
        #expect(key == hex("fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe 7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62"
            + " 2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40"))
    }

    @Test func constantTimeEqualCompares() {
        #expect(SystemCrypto.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!SystemCrypto.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!SystemCrypto.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(SystemCrypto.constantTimeEqual([], []))
    }

    @Test func randomBytesDiffer() throws {
        let a = try SystemCrypto.randomBytes(32)
        let b = try SystemCrypto.randomBytes(32)
        #expect(a.count == 32)
        #expect(a != b)
    }

    @Test func hexRoundTrips() {
        #expect([UInt8](hex: "00ff10Ab") == [0x00, 0xFF, 0x10, 0xAB])
        #expect([0x00, 0xFF, 0x10, 0xAB].hexString == "00ff10ab")
        #expect([UInt8](hex: "0g") == nil)
        #expect([UInt8](hex: "abc") == nil)
    }

    @Test func nodeKeyProvesOnlyItself() throws {
        let key = try NodeKey.generate()
        let hash = try key.hash()
        #expect(NodeKey.proves(key.hex, hash: hash))
        #expect(!NodeKey.proves(try NodeKey.generate().hex, hash: hash))
        #expect(!NodeKey.proves("not hex", hash: hash))
        #expect(!NodeKey.proves(key.hex, hash: []))
        #expect(!"\(key)".contains(key.hex))
    }
}
