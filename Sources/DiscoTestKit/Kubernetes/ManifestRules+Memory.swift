import DiscoCore

// MARK: - Memory limits

extension ManifestRules {
    /// The node keeps its event window (`-events-retain-bytes`, 64 MiB of event data by
    /// default) in memory, and a node costs several times the window's bytes: measured with a
    /// release discod and 3.2 KB events of 100 fields, a full 64 MiB window peaked at 441 MiB
    /// while written, 419 MiB while a restarted node read its log back, and 571 MiB after two
    /// more windows' worth of writes to that node (a 16 MiB window: 153 and 180 MiB). Below that
    /// a pod is OOM-killed, and a restarted one on every start. The floor is a line over those
    /// measurements.
    static func memoryFloor(windowBytes: Int) -> Int { 128 << 20 + 7 * windowBytes }

    static let defaultEventWindow = 64 << 20

    /// A container running `discod` or `disco-sidecar` with a memory limit must leave room for
    /// ``memoryFloor(windowBytes:)``; with no size bound on the window (`-events-retain-bytes=0`)
    /// no limit does.
    static func memoryRules(_ workload: Workload, images: [HarnessImage]) throws -> [Finding] {
        var findings: [Finding] = []
        for container in workload.template.allContainers {
            guard let limit = container.memoryLimit, let line = try commandLine(container, in: workload, images: images),
                  let program = line.first.map({ String($0.split(separator: "/").last ?? "") }), programs.contains(program)
            else { continue }
            let text = flagValue("events-retain-bytes", in: line.dropFirst())
            let window = try text.map { text throws(FlagValueError) in try ByteSize.parse(text) } ?? defaultEventWindow
            let location = "\(container.location).resources.limits.memory"
            if window == 0 {
                findings.append(Finding(rule: .memoryLimit, location: location,
                                        message: "-events-retain-bytes=0 keeps every event in memory, which no memory limit holds; bound the window or drop the limit"))
                continue
            }
            let floor = memoryFloor(windowBytes: window)
            if limit < floor {
                findings.append(Finding(rule: .memoryLimit, location: location,
                                        message: "the limit \(ByteSize.format(limit)) holds less than \(program)'s measured peak with a full event window of "
                                            + "\(ByteSize.format(window)) (-events-retain-bytes): at least \(ByteSize.format(floor)), or it is OOM-killed, "
                                            + "and again on every restart"))
            }
        }
        return findings
    }
}
