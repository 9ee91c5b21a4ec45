import Foundation

// MARK: - NginxFixture

/// A real nginx (Debian `nginx-light`) on 127.0.0.1 and a free port, one process
/// (`master_process off`, one worker's worth of event loop), with a temporary prefix for its
/// configuration, pid file, access log and temp paths. Its error log goes to the process output.
///
/// The caller gives the `http` block's extra directives and the `server` block's body; the
/// fixture adds `listen` and a `location = /ready` it polls until nginx answers.
public final class NginxFixture: Sendable {
    public static let executable = "/usr/sbin/nginx"

    public let port: UInt16
    /// The temporary prefix (configuration in `nginx.conf`, access log in `access.log`).
    public let prefix: String
    public let process: ChildProcess

    private init(port: UInt16, prefix: String, process: ChildProcess) {
        self.port = port
        self.prefix = prefix
        self.process = process
    }

    deinit {
        try? FileManager.default.removeItem(atPath: prefix)
    }

    /// Starts nginx and returns once it answers. Retries with a new port when the chosen one
    /// was taken in the meantime.
    /// - Parameters:
    ///   - http: directives for the `http` block (zones, log formats).
    ///   - server: the `server` block's body besides `listen` (locations).
    ///   - accessLogFormat: when given, requests are logged to `access.log` in this format.
    public static func start(http: String, server: String, accessLogFormat: String? = nil, timeout: Duration = .seconds(30)) async throws -> NginxFixture {
        var lastFailure: (any Error)?
        for _ in 0..<5 {
            let port = try FreePort.loopback()
            let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("disco-nginx-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: prefix, withIntermediateDirectories: true)
            let configuration = Self.configuration(prefix: prefix, port: port, http: http, server: server, accessLogFormat: accessLogFormat)
            try configuration.write(toFile: prefix + "/nginx.conf", atomically: true, encoding: .utf8)
            let process = ChildProcess(name: "nginx", executable: executable, arguments: ["-p", prefix, "-c", prefix + "/nginx.conf", "-e", "stderr"])
            try process.start()
            let fixture = NginxFixture(port: port, prefix: prefix, process: process)
            do {
                try await waitUntil("nginx on 127.0.0.1:\(port) to answer", timeout: timeout) {
                    if let status = process.exitStatus {
                        throw ChildProcess.Failure(description: "nginx exited with status \(status):\n\(process.output)")
                    }
                    return await LoopbackProbe.httpGet(port: port, path: "/ready")?.status == 200
                }
                return fixture
            } catch {
                lastFailure = error
                await process.stop()
                guard process.output.contains("in use") else { throw error }
            }
        }
        throw lastFailure ?? ChildProcess.Failure(description: "nginx did not start")
    }

    static func configuration(prefix: String, port: UInt16, http: String, server: String, accessLogFormat: String?) -> String {
        let accessLog = accessLogFormat.map { "log_format disco '\($0)';\n    access_log \(prefix)/access.log disco;" } ?? "access_log off;"
        return """
            daemon off;
            master_process off;
            worker_processes 1;
            pid \(prefix)/nginx.pid;
            error_log stderr notice;
            events { worker_connections 4096; }
            http {
                \(accessLog)
                client_body_temp_path \(prefix)/client_body;
                proxy_temp_path \(prefix)/proxy;
                fastcgi_temp_path \(prefix)/fastcgi;
                uwsgi_temp_path \(prefix)/uwsgi;
                scgi_temp_path \(prefix)/scgi;
                \(http)
                server {
                    listen 127.0.0.1:\(port);
                    location = /ready { return 200 "ready"; }
                    \(server)
                }
            }
            """
    }

    /// The access log's lines so far (empty without `accessLogFormat`).
    public var accessLog: [String] {
        guard let text = try? String(contentsOfFile: prefix + "/access.log", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }

    /// Stops nginx (SIGTERM, then SIGKILL) and removes the prefix.
    public func stop() async {
        await process.stop()
        try? FileManager.default.removeItem(atPath: prefix)
    }
}
