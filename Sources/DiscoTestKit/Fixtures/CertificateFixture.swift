import Foundation
import Synchronization

// MARK: - CertificateFixture

/// Certificates for TLS tests, made with the real `openssl` command in a temporary directory:
/// a test CA and a second, unrelated CA, and leaf certificates issued by either with IP and DNS
/// subject alternative names, valid now, expired, or not yet valid.
///
/// Keys are EC P-256 (fast to make). Leaves carry `serverAuth` and `clientAuth`, so one node
/// certificate serves both sides of mutual TLS. The directory is removed on ``remove()`` or
/// when the fixture is released.
public final class CertificateFixture: Sendable {
    /// A certificate and its key, as PEM files.
    public struct Credential: Sendable, Hashable {
        public let certificate: String
        public let key: String
        /// The certificate's subject common name.
        public let commonName: String
    }

    /// Which CA signs a leaf.
    public enum Authority: Sendable {
        /// "Disco Test CA": the one nodes trust.
        case main
        /// "Other Test CA": a CA nobody trusts.
        case other
        /// "Disco Intermediate CA", signed by the test CA (made by ``makeIntermediate()``).
        case intermediate

        var directoryName: String {
            switch self {
            case .main: "/ca"
            case .other: "/other-ca"
            case .intermediate: "/intermediate-ca"
            }
        }
    }

    /// When a leaf is valid.
    public enum Validity: Sendable {
        /// From now for this many days.
        case days(Int)
        /// Ended before now (January 2020).
        case expired
        /// Starts a year from now.
        case notYetValid
    }

    public static let openssl = "/usr/bin/openssl"

    public let directory: String
    /// "Disco Test CA".
    public let ca: Credential
    /// "Other Test CA", unrelated to ``ca``.
    public let otherCA: Credential
    private let issued = Mutex(0)

    private init(directory: String, ca: Credential, otherCA: Credential) {
        self.directory = directory
        self.ca = ca
        self.otherCA = otherCA
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// Makes the two CAs in a fresh temporary directory.
    public static func make(name: String = "tls") async throws -> CertificateFixture {
        let directory = NSTemporaryDirectory() + "disco-\(name)-certs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let main = try await makeAuthority(in: directory + "/ca", commonName: "Disco Test CA")
        let other = try await makeAuthority(in: directory + "/other-ca", commonName: "Other Test CA")
        return CertificateFixture(directory: directory, ca: main, otherCA: other)
    }

    /// Removes every file made.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: Issuing

    /// Issues a leaf certificate `commonName` for `ips` and `dnsNames`, signed by `authority`,
    /// valid as `validity` says. Files are `<dir>/<file>.pem` and `<dir>/<file>.key`.
    public func issue(_ commonName: String, ips: [String] = ["127.0.0.1"], dnsNames: [String] = ["localhost"],
                      by authority: Authority = .main, validity: Validity = .days(30), file: String? = nil) async throws -> Credential {
        let serial = issued.withLock { counter -> Int in
            counter += 1
            return counter
        }
        let base = "\(directory)/\(file ?? commonName.replacingOccurrences(of: " ", with: "-"))-\(serial)"
        let caDirectory = directory + authority.directoryName
        let names = ips.map { "IP:\($0)" } + dnsNames.map { "DNS:\($0)" }
        let extensions = """
        basicConstraints = CA:FALSE
        keyUsage = critical,digitalSignature
        extendedKeyUsage = serverAuth,clientAuth
        subjectAltName = \(names.joined(separator: ","))
        """
        try extensions.write(toFile: base + ".ext", atomically: true, encoding: .utf8)
        try await Self.run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", base + ".key", "-out", base + ".csr", "-subj", "/CN=\(commonName)"])
        var dates: [String]
        switch validity {
        case .days(let days): dates = ["-days", String(days)]
        case .expired: dates = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"]
        case .notYetValid:
            let start = Date().addingTimeInterval(365 * 86_400)
            dates = ["-startdate", Self.generalizedTime(start), "-enddate", Self.generalizedTime(start.addingTimeInterval(30 * 86_400))]
        }
        // `openssl ca` keeps a database; each issue gets its own (and a random serial), so
        // concurrent tests never share one.
        let config = try Self.writeDatabase(at: base + ".db", caDirectory: caDirectory)
        try await Self.run(["ca", "-config", config, "-batch", "-notext", "-in", base + ".csr",
                            "-out", base + ".pem", "-extfile", base + ".ext"] + dates)
        return Credential(certificate: base + ".pem", key: base + ".key", commonName: commonName)
    }

    /// Makes "Disco Intermediate CA", signed by the test CA, so leaves can be issued `by:
    /// .intermediate` and presented as a chain (see ``chain(_:)``).
    @discardableResult
    public func makeIntermediate() async throws -> Credential {
        let caDirectory = directory + Authority.intermediate.directoryName
        try FileManager.default.createDirectory(atPath: caDirectory, withIntermediateDirectories: true)
        let extensions = "basicConstraints = critical,CA:TRUE,pathlen:0\nkeyUsage = critical,keyCertSign,cRLSign\n"
        try extensions.write(toFile: caDirectory + "/ca.ext", atomically: true, encoding: .utf8)
        try await Self.run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                            "-keyout", caDirectory + "/ca.key", "-out", caDirectory + "/ca.csr", "-subj", "/CN=Disco Intermediate CA"])
        let config = try Self.writeDatabase(at: caDirectory + "/db", caDirectory: directory + Authority.main.directoryName)
        try await Self.run(["ca", "-config", config, "-batch", "-notext", "-in", caDirectory + "/ca.csr", "-out", caDirectory + "/ca.pem",
                            "-extfile", caDirectory + "/ca.ext", "-days", "365"])
        return Credential(certificate: caDirectory + "/ca.pem", key: caDirectory + "/ca.key", commonName: "Disco Intermediate CA")
    }

    /// A file with `leaf`'s certificate followed by the intermediate CA's: the chain a server
    /// presents when its certificate comes from the intermediate.
    public func chain(_ leaf: Credential) throws -> String {
        let path = leaf.certificate.replacingOccurrences(of: ".pem", with: "-chain.pem")
        let text = try String(contentsOfFile: leaf.certificate, encoding: .utf8)
            + String(contentsOfFile: directory + Authority.intermediate.directoryName + "/ca.pem", encoding: .utf8)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Node certificates `node1…nodeN` for 127.0.0.1…127.0.0.N (and `localhost`).
    public func nodes(_ count: Int) async throws -> [Credential] {
        var credentials: [Credential] = []
        for index in 1...count {
            credentials.append(try await issue("node\(index)", ips: ["127.0.0.\(index)", "127.0.0.1"]))
        }
        return credentials
    }

    /// A file holding the certificates of `credentials`, one after the other (a CA bundle).
    public func bundle(of credentials: [Credential], file: String = "bundle.pem") throws -> String {
        var text = ""
        for credential in credentials { text += try String(contentsOfFile: credential.certificate, encoding: .utf8) }
        let path = directory + "/" + file
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    // MARK: Making a CA

    /// An `openssl ca` configuration with its own database and a random serial, for one issue.
    private static func writeDatabase(at directory: String, caDirectory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "".write(toFile: directory + "/index.txt", atomically: true, encoding: .utf8)
        let serial = (0..<8).map { index in String(format: "%02x", UInt8.random(in: 0...255) & (index == 0 ? 0x7F : 0xFF)) }.joined()
        try (serial + "\n").write(toFile: directory + "/serial", atomically: true, encoding: .utf8)
        let config = """
        [ ca ]
        default_ca = test_ca
        [ test_ca ]
        database = \(directory)/index.txt
        new_certs_dir = \(directory)
        serial = \(directory)/serial
        certificate = \(caDirectory)/ca.pem
        private_key = \(caDirectory)/ca.key
        default_md = sha256
        policy = any_name
        unique_subject = no
        [ any_name ]
        commonName = supplied
        """
        try config.write(toFile: directory + "/ca.cnf", atomically: true, encoding: .utf8)
        return directory + "/ca.cnf"
    }

    private static func makeAuthority(in directory: String, commonName: String) async throws -> Credential {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try await run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                       "-keyout", directory + "/ca.key", "-out", directory + "/ca.pem", "-days", "3650",
                       "-subj", "/CN=\(commonName)", "-addext", "basicConstraints=critical,CA:TRUE",
                       "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        return Credential(certificate: directory + "/ca.pem", key: directory + "/ca.key", commonName: commonName)
    }

    /// Runs `openssl` with `arguments`; throws with its output when it fails.
    static func run(_ arguments: [String]) async throws {
        let process = ChildProcess(name: "openssl \(arguments.first ?? "")", executable: openssl, arguments: arguments)
        try process.start()
        let status = try await process.waitForExit(timeout: .seconds(60))
        guard status == 0 else {
            throw ChildProcess.Failure(description: "openssl \(arguments.joined(separator: " ")) exited with \(status):\n\(process.output)")
        }
    }

    static func generalizedTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }
}
