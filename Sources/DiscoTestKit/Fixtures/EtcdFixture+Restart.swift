import Foundation

// MARK: - Restarting members

extension EtcdFixture {
    /// Starts a member stopped with ``stopMember(_:)`` again, with the same ports and data
    /// directory, and returns once it reports healthy (a lone member is healthy once it has a
    /// leader, so a cluster needs its quorum back first).
    public func restartMember(_ index: Int, timeout: Duration = .seconds(60)) async throws {
        let member = members[index]
        try member.process.start(environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ETCD") })
        try await waitUntil("etcd \(member.name) at \(member.clientURL) to report healthy after a restart", timeout: timeout) {
            if let status = member.process.exitStatus {
                throw ChildProcess.Failure(description: "etcd \(member.name) exited with status \(status):\n\(member.process.output)")
            }
            return await self.isHealthy(member)
        }
    }
}
