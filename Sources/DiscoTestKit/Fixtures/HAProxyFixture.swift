import Foundation

// MARK: - HAProxyFixture

/// A real HAProxy (Debian `haproxy`) on 127.0.0.1 and a free port, one thread (`nbthread 1`),
/// in the foreground, with its configuration in a temporary directory. The caller gives the
/// `frontend` section's body (its rules and `default_backend`) and any `backend` sections; the
/// fixture adds `bind` and a `/ready` answer it polls until HAProxy answers.
public final class HAProxyFixture: Sendable {
    public static let executable = "/usr/sbin/haproxy"

    public let port: UInt16
    public let directory: String
    public let process: ChildProcess

    private init(port: UInt16, directory: String, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts HAProxy and returns once it answers.
    /// - Parameters:
    ///   - frontend: lines of the `frontend` section besides `bind` (e.g. `http-request return …`).
    ///   - backends: whole `backend` sections.
    public static func start(frontend: String, backends: String = "", timeout: Duration = .seconds(30)) async throws -> HAProxyFixture {
        var lastFailure: (any Error)?
        for _ in 0..<5 {
            let port = try FreePort.loopback()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("disco-haproxy-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try configuration(port: port, frontend: frontend, backends: backends)
                .write(toFile: directory + "/haproxy.cfg", atomically: true, encoding: .utf8)
            let process = ChildProcess(name: "haproxy", executable: executable, arguments: ["-db", "-f", directory + "/haproxy.cfg"])
            try process.start()
            let fixture = HAProxyFixture(port: port, directory: directory, process: process)
            do {
                try await waitUntil("haproxy on 127.0.0.1:\(port) to answer", timeout: timeout) {
                    if let status = process.exitStatus {
                        throw ChildProcess.Failure(description: "haproxy exited with status \(status):\n\(process.output)")
                    }
                    return await LoopbackProbe.httpGet(port: port, path: "/ready")?.status == 200
                }
                return fixture
            } catch {
                lastFailure = error
                await process.stop()
                guard process.output.contains("in use") || process.output.contains("cannot bind") else { throw error }
            }
        }
        throw lastFailure ?? ChildProcess.Failure(description: "haproxy did not start")
    }

    /// The configuration: one thread, HTTP mode, generous timeouts, keep-alive both ways.
    public static func configuration(port: UInt16, frontend: String, backends: String) -> String {
        """
        global
            nbthread 1
            maxconn 4000
        defaults
            mode http
            timeout connect 5s
            timeout client 60s
            timeout server 60s
            timeout http-keep-alive 60s
            option http-keep-alive
        frontend main
            bind 127.0.0.1:\(port)
            http-request return status 200 content-type text/plain string "ready" if { path /ready }
        \(frontend.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        \(backends)

        """
    }

    /// Stops HAProxy and removes its directory.
    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
