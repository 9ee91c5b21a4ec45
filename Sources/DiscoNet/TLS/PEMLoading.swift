#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import COpenSSL

// MARK: - Reading PEM sources

/// Loads certificates and keys from ``PEMSource``s into OpenSSL objects, with errors that name
/// the file and say what was found instead.
enum PEMLoading {
    /// Largest PEM file read (a CA bundle of a few hundred certificates fits easily).
    static let maxFileBytes = 8 << 20

    /// The bytes of `source`.
    static func bytes(of source: PEMSource) throws(TLSError) -> [UInt8] {
        switch source {
        case .bytes(let bytes, _): return bytes
        case .file(let path): return try readFile(path)
        }
    }

    static func readFile(_ path: String) throws(TLSError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TLSError(.unreadableFile, source: path, detail: "cannot open: \(String(cString: strerror(errno)))")
        }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw TLSError(.unreadableFile, source: path, detail: "cannot read: \(String(cString: strerror(errno)))")
            }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= maxFileBytes else {
                throw TLSError(.badPEM, source: path, detail: "larger than \(maxFileBytes >> 20) MiB; expected PEM certificates or a key")
            }
        }
        return bytes
    }

    // MARK: Certificates

    /// Every certificate in `source`, in order (owned: free each with `X509_free`).
    /// Throws when there is none or when a PEM block is corrupt.
    static func certificates(from source: PEMSource, what: String) throws(TLSError) -> [OpaquePointer] {
        let bytes = try bytes(of: source)
        OpenSSLErrors.clear()
        var certificates: [OpaquePointer] = []
        let failure: TLSError? = bytes.withUnsafeBytes { raw -> TLSError? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else {
                return TLSError(.badPEM, source: source.description, detail: "cannot buffer the file: \(OpenSSLErrors.drain())")
            }
            defer { BIO_free(bio) }
            while let certificate = PEM_read_bio_X509(bio, nil, refusePassphrase, nil) {
                certificates.append(certificate)
            }
            // Reading stops at the end of the input (PEM_R_NO_START_LINE) or at a broken block.
            let last = ERR_peek_last_error()
            let endOfInput = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE
            if last != 0 && !endOfInput {
                return TLSError(.badPEM, source: source.description, detail: "a certificate in it cannot be read (\(OpenSSLErrors.drain()))")
            }
            OpenSSLErrors.clear()
            return nil
        }
        if let failure {
            certificates.forEach { X509_free($0) }
            throw failure
        }
        guard !certificates.isEmpty else {
            throw TLSError(.badPEM, source: source.description,
                           detail: "no PEM certificate found; expected \(what) between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----"
                               + hint(bytes, source: source))
        }
        return certificates
    }

    // MARK: Keys

    /// The private key in `source` (owned: free with `EVP_PKEY_free`). Encrypted keys are
    /// refused (there is nobody to type a passphrase).
    static func privateKey(from source: PEMSource) throws(TLSError) -> OpaquePointer {
        let bytes = try bytes(of: source)
        if bytes.containsSequence(Array("ENCRYPTED".utf8)) {
            throw TLSError(.badPEM, source: source.description,
                           detail: "the private key is encrypted; give an unencrypted PEM key (openssl pkey -in KEY -out KEY.plain)")
        }
        OpenSSLErrors.clear()
        let key: OpaquePointer? = bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_PrivateKey(bio, nil, refusePassphrase, nil)
        }
        guard let key else {
            let reason = OpenSSLErrors.drain()
            throw TLSError(.badPEM, source: source.description,
                           detail: "no PEM private key found (\(reason.isEmpty ? "empty" : reason)); expected -----BEGIN PRIVATE KEY----- "
                               + "(or RSA/EC PRIVATE KEY)" + hint(bytes, source: source))
        }
        return key
    }

    /// A passphrase callback that has none to give, so OpenSSL never prompts on a terminal.
    private static let refusePassphrase: @convention(c) (UnsafeMutablePointer<CChar>?, Int32, Int32, UnsafeMutableRawPointer?) -> Int32 = { _, _, _, _ in 0 }

    /// A hint when the file holds the other kind of PEM than expected, or a binary encoding
    /// (with the command that converts it).
    private static func hint(_ bytes: [UInt8], source: PEMSource) -> String {
        if bytes.containsSequence(Array("PRIVATE KEY-----".utf8)) { return "; this file holds a private key" }
        if bytes.containsSequence(Array("BEGIN CERTIFICATE".utf8)) { return "; this file holds a certificate" }
        if bytes.isEmpty { return "; the file is empty" }
        let file = source.description
        switch binaryKind(bytes) {
        case .certificate?:
            return "; this file holds a DER (binary) certificate; convert it to PEM: openssl x509 -inform der -in \(file) -out \(file).pem"
        case .privateKey?:
            return "; this file holds a DER (binary) private key; convert it to PEM: openssl pkey -inform der -in \(file) -out \(file).pem"
        case .pkcs12?:
            return "; this file holds a PKCS#12 bundle; convert it to PEM: openssl pkcs12 -in \(file) -nodes -out \(file).pem "
                + "(the result holds the certificate and the key: give it as both)"
        case nil:
            return ""
        }
    }

    /// What a DER-encoded (binary) file holds, when it is one of the things a PEM file would.
    private enum BinaryKind { case certificate, privateKey, pkcs12 }

    private static func binaryKind(_ bytes: [UInt8]) -> BinaryKind? {
        guard bytes.first == 0x30 else { return nil }  // DER starts with a SEQUENCE
        defer { OpenSSLErrors.clear() }
        return bytes.withUnsafeBufferPointer { buffer -> BinaryKind? in
            var cursor = buffer.baseAddress
            if let certificate = d2i_X509(nil, &cursor, buffer.count) {
                X509_free(certificate)
                return .certificate
            }
            cursor = buffer.baseAddress
            if let key = d2i_AutoPrivateKey(nil, &cursor, buffer.count) {
                EVP_PKEY_free(key)
                return .privateKey
            }
            cursor = buffer.baseAddress
            if let bundle = d2i_PKCS12(nil, &cursor, buffer.count) {
                PKCS12_free(bundle)
                return .pkcs12
            }
            return nil
        }
    }
}

// MARK: - Describing certificates

enum X509Text {
    /// A name as RFC 2253 text (`CN=node1,O=Disco`).
    static func name(_ name: OpaquePointer?) -> String {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, name, 0, disco_XN_FLAG_RFC2253())
        return bioText(bio)
    }

    static func subject(_ certificate: OpaquePointer?) -> String {
        guard let certificate else { return "?" }
        return name(X509_get_subject_name(certificate))
    }

    static func issuer(_ certificate: OpaquePointer?) -> String {
        guard let certificate else { return "?" }
        return name(X509_get_issuer_name(certificate))
    }

    /// The end of the validity period (`Jan  2 03:04:05 2027 GMT`).
    static func notAfter(_ certificate: OpaquePointer) -> String { text(of: X509_get0_notAfter(certificate)) }

    /// The end of the validity period in seconds since the Unix epoch.
    static func notAfterSeconds(_ certificate: OpaquePointer) -> Int64? { seconds(of: X509_get0_notAfter(certificate)) }

    /// The start of the validity period (`Jan  2 03:04:05 2027 GMT`).
    static func notBefore(_ certificate: OpaquePointer) -> String { text(of: X509_get0_notBefore(certificate)) }

    /// The start of the validity period in seconds since the Unix epoch.
    static func notBeforeSeconds(_ certificate: OpaquePointer) -> Int64? { seconds(of: X509_get0_notBefore(certificate)) }

    /// A certificate time as OpenSSL prints it.
    private static func text(of time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        ASN1_TIME_print(bio, time)
        return bioText(bio)
    }

    /// A certificate time in seconds since the Unix epoch.
    private static func seconds(of time: UnsafePointer<ASN1_TIME>?) -> Int64? {
        var broken = tm()
        guard ASN1_TIME_to_tm(time, &broken) == 1 else { return nil }
        return Int64(timegm(&broken))
    }

    /// The certificate's SHA-256 fingerprint (of its DER encoding).
    static func sha256(_ certificate: OpaquePointer) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, EVP_sha256(), &digest, &length) == 1 else { return [] }
        return Array(digest.prefix(Int(length)))
    }

    /// SHA-256 of `bytes`.
    static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil) == 1 else { return Array(bytes.prefix(32)) }
        return Array(digest.prefix(Int(length)))
    }

    private static func bioText(_ bio: OpaquePointer) -> String {
        var data: UnsafeMutablePointer<CChar>?
        let count = disco_BIO_get_mem_data(bio, &data)
        guard let data, count > 0 else { return "" }
        return UnsafeRawBufferPointer(start: data, count: count).withMemoryRebound(to: UInt8.self) {
            String(decoding: $0, as: UTF8.self)
        }
    }
}

extension Array where Element == UInt8 {
    /// Whether `needle` occurs in the array.
    func containsSequence(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, count >= needle.count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
