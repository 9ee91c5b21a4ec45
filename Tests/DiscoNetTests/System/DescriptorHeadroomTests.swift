#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
@testable import DiscoNet
import Testing

/// The headroom kept the threshold it read first: once the soft `RLIMIT_NOFILE` was lowered at
/// run time (`setrlimit` in the process, `prlimit` from outside), sockets were still admitted
/// into the last 16 descriptors below the new limit, which the headroom keeps for libdispatch
/// (whose own `open` failing with EMFILE stops the process). Now the limit is read again every
/// few sockets: a socket numbered 16 below the new limit is refused within 64 sockets, and one
/// below that still admitted.
///
/// The limit is lowered in this process, by 256 from the test process's own (far above what
/// the tests open: nothing else is refused meanwhile), and restored after; nothing else in the
/// tests changes it.
@Suite("Descriptor headroom: a soft limit lowered at run time", .serialized)
struct DescriptorHeadroomTests {
    @Test func aLoweredSoftLimitIsSeenWithinAFewSockets() throws {
        let resource = Int32(RLIMIT_NOFILE.rawValue)
        var original = rlimit()
        try #require(getrlimit(resource, &original) == 0)
        let soft = original.rlim_cur >= rlim_t(1 << 20) ? 1 << 20 : Int(original.rlim_cur)
        let lowered = soft - 256
        try #require(lowered >= 4096, "the test process's soft limit (\(soft)) is too low to lower safely")
        // The threshold as read before (the first socket reads it).
        #expect(DescriptorHeadroom.admits(3))

        var changed = original
        changed.rlim_cur = rlim_t(lowered)
        try #require(setrlimit(resource, &changed) == 0, "setrlimit: errno \(errno)")
        defer { _ = setrlimit(resource, &original) }
        let firstKept = Int32(lowered - DescriptorHeadroom.reserved)
        // Sockets numbered there (the kernel hands out the lowest free number: the next ones
        // to be opened once the process holds that many): refused once the limit is read again.
        let admittedBeforeRefusal = (0...64).prefix { _ in DescriptorHeadroom.admits(firstKept) }.count
        #expect(admittedBeforeRefusal <= 64, "a socket at \(firstKept), 16 below the lowered limit \(lowered), was still admitted")
        #expect(!DescriptorHeadroom.admits(firstKept))
        #expect(!DescriptorHeadroom.admits(Int32(lowered - 1)))
        #expect(DescriptorHeadroom.admits(firstKept - 1), "one below the headroom is a socket's")

        // Raised again: seen at once (a socket at the threshold reads the limit).
        _ = setrlimit(resource, &original)
        #expect(DescriptorHeadroom.admits(firstKept))
    }
}
