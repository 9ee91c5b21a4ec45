import DiscoCore
import DiscoNet
import Synchronization

// MARK: - Datagrams the socket refuses to send

extension SWIM.Shell {
    /// Logs datagrams the socket refused to send, as a warning at most once a minute per member
    /// address, with the number held back. A member this one can never send to (an address of
    /// another family than the bound socket's, a network without a route) is otherwise
    /// suspected and declared dead, again and again, with nothing above debug level to say why.
    final class SendFailureLog: Sendable {
        static let interval: Duration = .seconds(60)

        let logger: Logger
        /// The socket's bound address, as the log names it.
        let bound: SocketAddress
        private let origin = ContinuousClock.now
        private let throttle = Mutex(KeyedLogThrottle<PeerAddress>(interval: SendFailureLog.interval, capacity: 256))

        init(logger: Logger, bound: SocketAddress) {
            self.logger = logger
            self.bound = bound
        }

        /// Records that a datagram to `destination` could not be sent.
        func failed(to destination: PeerAddress, target: SocketAddress, _ error: any Error) {
            let closed = (error as? NetworkError)?.code == .connectionClosed  // the shell is shutting down
            let (log, suppressed) = closed ? (false, 0) : throttle.withLock { $0.shouldLog(destination, at: origin.duration(to: .now)) }
            guard log else {
                logger.debug("UDP send failed", metadata: ["to": "\(destination)", "error": "\(error)"])
                return
            }
            var metadata: Logger.Metadata = ["to": "\(destination)", "bound": "\(bound)", "error": "\(error)"]
            if suppressed > 0 { metadata["suppressed"] = "\(suppressed)" }
            var message = "cannot send SWIM datagrams to a member, so this member will take it for dead"
            // Only a dual-stack socket (IPv6, every interface) sends to both families.
            if bound.isIPv6 != target.isIPv6, !(bound.isIPv6 && PeerAddress.isEveryInterfaceHost(bound.host)) {
                message += "; its address is \(target.isIPv6 ? "IPv6" : "IPv4") but this member's socket is bound to an "
                    + "\(bound.isIPv6 ? "IPv6" : "IPv4") address: bind every interface, IPv6 and IPv4 (-raft-addr :PORT), "
                    + "or give every member an address of one family"
            }
            logger.warning("\(message)", metadata: metadata)
        }
    }
}
