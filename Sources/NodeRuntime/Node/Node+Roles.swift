import DiscoCore
import DiscoLifecycle

// MARK: - Running roles

extension Node {
    /// One service per role: started after the node's own services, asked to stop before them
    /// (before leadership is handed over and the node leaves). A role that returns on its own
    /// does not stop the node; one that throws does, with its error.
    func roleServices() -> [ServiceGroupConfiguration.ServiceEntry] {
        roles.map { role in
            let context = RoleContext(node: self, logger: logger.withLabel("role-\(role.name)"))
            return ServiceGroupConfiguration.ServiceEntry(ServiceFunction { [self] in
                do {
                    try await role.run(context)
                } catch is CancellationError {
                    return
                } catch {
                    guard !isStopping else { return }
                    throw self.failure("role \(role.name) failed: \(error)")
                }
            }, name: "role-\(role.name)", successTerminationBehavior: .ignore)
        }
    }

    /// `roles` of `/status`: each role's fields by name.
    func roleStatus() async -> JSONValue {
        var object = JSONObject()
        for role in roles { object.append(key: role.name, value: await role.status() ?? .object(JSONObject())) }
        return .object(object)
    }

    /// The first role that is not ready, and why.
    func roleReadinessProblem() async -> (String, String)? {
        for role in roles {
            if let problem = await role.readinessProblem() { return (role.name, problem) }
        }
        return nil
    }

    /// Every role's metric lines.
    func roleMetricLines() async -> [String] {
        var lines: [String] = []
        for role in roles { lines += await role.metricLines() }
        return lines
    }
}
