import DiscoCore
#if canImport(Glibc)
@preconcurrency import Glibc
#endif

// MARK: - Process statistics

/// What Prometheus's standard `process_*` metrics report about this process, read from Linux's
/// `/proc` (zero where a file cannot be read).
public struct ProcessStatistics: Sendable, Hashable {
    /// `process_resident_memory_bytes`.
    public var residentMemoryBytes: Int
    /// `process_virtual_memory_bytes`.
    public var virtualMemoryBytes: Int
    /// `process_cpu_seconds_total`: user plus system time.
    public var cpuSeconds: Double
    /// `process_open_fds`.
    public var openFileDescriptors: Int
    /// `process_max_fds`: the soft `RLIMIT_NOFILE`.
    public var maxFileDescriptors: Int
    /// `process_start_time_seconds`: since the Unix epoch.
    public var startTimeSeconds: Double

    /// Reads the current values.
    public static func current() -> ProcessStatistics {
        var statistics = ProcessStatistics(residentMemoryBytes: 0, virtualMemoryBytes: 0, cpuSeconds: 0, openFileDescriptors: 0,
                                           maxFileDescriptors: 0, startTimeSeconds: 0)
        let ticks = Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
        let page = max(1, sysconf(Int32(_SC_PAGESIZE)))
        if let stat = read("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            // Fields after the command's closing parenthesis, starting with field 3 (state).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
            statistics.cpuSeconds = (field(14) + field(15)) / ticks
            statistics.virtualMemoryBytes = Int(field(23))
            statistics.residentMemoryBytes = Int(field(24)) * page
            if let boot = bootTime() { statistics.startTimeSeconds = boot + field(22) / ticks }
        }
        statistics.openFileDescriptors = countEntries("/proc/self/fd")
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            statistics.maxFileDescriptors = limit.rlim_cur == rlim_t.max ? Int.max : Int(limit.rlim_cur)
        }
        return statistics
    }

    /// The metrics in Prometheus's text format, with HELP and TYPE lines.
    public var prometheusText: String {
        func family(_ name: String, _ help: String, _ type: String, _ value: String) -> String {
            "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        return family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", String(cpuSeconds))
            + family("process_open_fds", "Number of open file descriptors.", "gauge", String(openFileDescriptors))
            + family("process_max_fds", "Maximum number of open file descriptors.", "gauge", String(maxFileDescriptors))
            + family("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge", String(virtualMemoryBytes))
            + family("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", String(residentMemoryBytes))
            + family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", String(startTimeSeconds))
    }

    // MARK: /proc

    private static func read(_ path: String) -> String? {
        guard let bytes = try? ProcessEnvironment.readFileIfExists(path, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `btime` of `/proc/stat`: when the system booted, in seconds since the epoch.
    private static func bootTime() -> Double? {
        guard let stat = read("/proc/stat") else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst("btime ".count))
        }
        return nil
    }

    private static func countEntries(_ directory: String) -> Int {
        guard let handle = opendir(directory) else { return 0 }
        defer { closedir(handle) }
        var count = 0
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(2)) }
            if name[0] == UInt8(ascii: ".") && (name[1] == 0 || name[1] == UInt8(ascii: ".")) { continue }
            count += 1
        }
        return max(0, count - 1)  // the descriptor opendir holds
    }
}
