#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import CDiscoEpoll
import DiscoCore
import Synchronization

// MARK: - A context that can be reloaded

/// The TLS context new connections use, rebuilt from the configuration's files on demand
/// (SIGHUP) or when they change (``reloadIfChanged()``, polled by the owner).
///
/// A reload builds a complete new context first; only when that succeeds does it replace the
/// current one, so a broken, half-written, expired or not yet valid certificate keeps the old one
/// serving. Open connections are never touched: each holds the context it was made from. A
/// server's session-ticket keys carry over, so clients resume across a rotation.
///
/// Changes are noticed by the identity of each file as `stat` sees it through symlinks
/// (device, inode, size, modification and change times): an edit in place, a rename over the
/// file, and Kubernetes' secret rotation (which swaps a `..data` symlink) all show.
public final class TLSContextStore: Sendable {
    /// The configuration every reload builds from.
    public let configuration: TLSConfiguration
    /// Whether contexts are built for accepting (server) or connecting (client).
    public let isServer: Bool
    private let state: Mutex<(context: TLSContext, fingerprints: [FileFingerprint?])>
    private let counters: TLSHandshakeCounters
    private let reloadCounts = Mutex((succeeded: 0, failed: 0))

    /// Loads a server context now; throws naming the file when something cannot be used.
    public convenience init(server configuration: TLSConfiguration) throws(TLSError) {
        try self.init(configuration, isServer: true)
    }

    /// Loads a client context now.
    public convenience init(client configuration: TLSConfiguration) throws(TLSError) {
        try self.init(configuration, isServer: false)
    }

    private init(_ configuration: TLSConfiguration, isServer: Bool) throws(TLSError) {
        self.configuration = configuration
        self.isServer = isServer
        let fingerprints = configuration.files.map(FileFingerprint.init(path:))
        let counters = TLSHandshakeCounters()
        let context = try TLSContext(configuration, isServer: isServer, counters: counters)
        state = Mutex((context, fingerprints))
        self.counters = counters
        // There is nothing better to present at start (and clients told not to verify still
        // connect), so an expired or not yet valid certificate serves, but not silently.
        if let warning = Self.warning(about: context) { configuration.logger?.warning("\(warning)") }
    }

    /// The context new connections get.
    public var current: TLSContext { state.withLock { $0.context } }

    /// What is wrong, by this machine's clock, with the certificate new connections get: it has
    /// expired or is not valid yet; nil while it is valid (or none is presented). A store logs it
    /// as a warning when it is made; `-validate` prints it, as the certificate would still serve.
    public var certificateWarning: String? { Self.warning(about: current) }

    /// Reloads that replaced the context, and reloads that failed (the old one kept serving).
    public var reloads: (succeeded: Int, failed: Int) { reloadCounts.withLock { $0 } }

    /// What a reload did.
    public enum ReloadOutcome: Sendable, CustomStringConvertible {
        /// No file changed (only from ``reloadIfChanged()``).
        case unchanged
        /// A new context now serves new connections.
        case reloaded(TLSContext)
        /// The files could not be used; the previous context keeps serving.
        case failed(TLSError)

        public var description: String {
            switch self {
            case .unchanged: "unchanged"
            case .reloaded(let context): "reloaded (certificate \(context.certificateSubject ?? "none"), valid until \(context.certificateNotAfter ?? "-"))"
            case .failed(let error): "reload failed, still serving the previous certificate: \(error)"
            }
        }
    }

    /// Rebuilds the context from the files now (SIGHUP).
    @discardableResult
    public func reload() -> ReloadOutcome {
        rebuild(fingerprints: configuration.files.map(FileFingerprint.init(path:)))
    }

    /// Rebuilds the context when a file changed since the last load or attempt. A failed
    /// attempt is not repeated until the files change again.
    @discardableResult
    public func reloadIfChanged() -> ReloadOutcome {
        let now = configuration.files.map(FileFingerprint.init(path:))
        guard state.withLock({ $0.fingerprints != now }) else { return .unchanged }
        return rebuild(fingerprints: now)
    }

    private func rebuild(fingerprints: [FileFingerprint?]) -> ReloadOutcome {
        do throws(TLSError) {
            let context = try TLSContext(configuration, isServer: isServer, counters: counters)
            // A certificate peers refuse is no replacement for one they accept: every peer that
            // verifies an expired one (an old file copied back, a renewal that did not happen) or
            // one not valid yet (issued ahead, or this machine's clock behind) refuses it. Not
            // valid yet is the lesser fault (it will be valid), so it is refused only over a
            // certificate valid now. When the one serving is as bad, the new files (a CA changed,
            // say) are no worse.
            let now = Int64(time(nil))
            if let fault = Self.fault(of: context, now: now), fault.rank > Self.fault(of: current, now: now)?.rank ?? 0 {
                throw fault.error
            }
            context.adoptTicketKeys(from: current)
            state.withLock { $0 = (context, fingerprints) }
            reloadCounts.withLock { $0.succeeded += 1 }
            return .reloaded(context)
        } catch {
            state.withLock { $0.fingerprints = fingerprints }
            reloadCounts.withLock { $0.failed += 1 }
            return .failed(error)
        }
    }
}

// MARK: - Validity

extension TLSContextStore {
    /// The warning about a context whose own certificate is not valid now: expired, or valid only
    /// from a time still to come.
    static func warning(about context: TLSContext) -> String? {
        let label = context.configuration.label
        switch fault(of: context, now: Int64(time(nil))) {
        case nil:
            return nil
        case .expired(let expired)?:
            return "\(label): \(expired) (peers that verify it refuse every connection until it is replaced; "
                + "a renewed file is loaded when it changes, or on SIGHUP)"
        case .notYetValid?:
            let file = context.configuration.certificateChain.map { "\($0.description): " } ?? ""
            return "\(label): \(file)the certificate \(context.certificateSubject ?? "?") is not valid until "
                + "\(context.certificateNotBefore ?? "?"); peers that verify it refuse it until then; check this machine's clock"
        }
    }

    /// Why peers that verify a certificate refuse it.
    enum ValidityFault {
        /// Its validity ended.
        case expired(TLSError)
        /// Its validity begins after `now`.
        case notYetValid(TLSError)

        /// How bad it is: a certificate not valid yet becomes valid, an expired one never does
        /// (a valid one ranks 0).
        var rank: Int {
            switch self {
            case .notYetValid: 1
            case .expired: 2
            }
        }

        /// The error a reload that refuses it reports.
        var error: TLSError {
            switch self {
            case .expired(let error), .notYetValid(let error): error
            }
        }
    }

    /// Why peers that verify a context's own certificate refuse it at `now` (seconds since the
    /// epoch, by the wall clock); nil while it is valid, or when the context presents none.
    static func fault(of context: TLSContext, now: Int64) -> ValidityFault? {
        let subject = context.certificateSubject ?? "?"
        let source = context.configuration.certificateChain?.description
        if let notAfter = context.certificateExpiry, notAfter <= now {
            var error = TLSError(.expiredCertificate, source: source,
                                 detail: "the certificate \(subject) expired on \(context.certificateNotAfter ?? "?"); give a renewed certificate")
            error.role = .certificateChain
            return .expired(error)
        }
        if let validFrom = context.certificateValidFrom, validFrom > now {
            var error = TLSError(.notYetValidCertificate, source: source,
                                 detail: "the certificate \(subject) is not valid until \(context.certificateNotBefore ?? "?"), "
                                    + "so peers that verify it would refuse it; give a certificate valid now, or check this machine's clock")
            error.role = .certificateChain
            return .notYetValid(error)
        }
        return nil
    }
}

// MARK: - File identity

/// What `stat` says about a file, through symlinks; nil fields when it cannot be read.
struct FileFingerprint: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modified: Int64
    let changed: Int64

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
    }
}
