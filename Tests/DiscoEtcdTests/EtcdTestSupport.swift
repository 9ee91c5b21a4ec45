import DiscoCore
import DiscoNet
import DiscoTestKit
@testable import DiscoEtcd

/// A client of the fixture's endpoints through DiscoNet's pooled client. The default deadline is
/// generous: it bounds a hang, and a loaded machine (the whole suite starting at once, etcd
/// syncing its log) can take seconds to answer.
func etcdClient(_ endpoints: [String], timeout: Duration = .seconds(30)) -> EtcdClient {
    EtcdClient(gateway: EtcdGateway(endpoints: endpoints, timeout: timeout, transport: HTTPClient()))
}

/// Runs `body` with a fresh etcd of `members` members, stopped afterwards whatever happens.
func withEtcd(members: Int = 1, _ body: (EtcdFixture) async throws -> Void) async throws {
    let etcd = try await EtcdFixture.start(members: members)
    do {
        try await body(etcd)
    } catch {
        await etcd.stop()
        throw error
    }
    await etcd.stop()
}

extension Array where Element == UInt8 {
    init(_ text: String) { self = Array(text.utf8) }
}
