// MARK: - Prometheus text format

/// Builds a Prometheus text exposition (version 0.0.4): `# HELP`, `# TYPE`, then samples.
struct PrometheusExposition {
    private(set) var text = ""

    mutating func gauge(_ name: String, _ help: String, _ value: String) {
        family(name, help, type: "gauge", samples: [("", value)])
    }

    mutating func counter(_ name: String, _ help: String, _ value: String) {
        family(name, help, type: "counter", samples: [("", value)])
    }

    /// One metric family; `labels` are written as `a="b",c="d"` (empty for none).
    mutating func family(_ name: String, _ help: String, type: String, samples: [(labels: String, value: String)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        for sample in samples {
            text += sample.labels.isEmpty ? "\(name) \(sample.value)\n" : "\(name){\(sample.labels)} \(sample.value)\n"
        }
    }

    /// A histogram: cumulative `_bucket{le}` samples, `_sum` and `_count`, per label set.
    mutating func histogram(_ name: String, _ help: String, bounds: [Double], series: [(labels: String, histogram: LatencyHistogram)]) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (labels, histogram) in series {
            let prefix = labels.isEmpty ? "" : labels + ","
            var cumulative = 0
            for (index, bound) in bounds.enumerated() {
                cumulative += histogram.buckets[index]
                text += "\(name)_bucket{\(prefix)le=\"\(Self.format(bound))\"} \(cumulative)\n"
            }
            text += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(histogram.count)\n"
            let suffix = labels.isEmpty ? "" : "{\(labels)}"
            text += "\(name)_sum\(suffix) \(Self.format(histogram.sum))\n\(name)_count\(suffix) \(histogram.count)\n"
        }
    }

    /// `a\"b` escaping for label values.
    static func escape(_ value: String) -> String {
        value.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"").replacing("\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}

/// Counts of observations in fixed buckets, their sum and count.
struct LatencyHistogram: Sendable {
    var buckets: [Int]
    var sum: Double = 0
    var count = 0

    init(bucketCount: Int) {
        buckets = [Int](repeating: 0, count: bucketCount)
    }

    /// Adds `value` to the first bucket whose bound is at least `value` (none: only +Inf).
    mutating func observe(_ value: Double, bounds: [Double]) {
        if let index = bounds.firstIndex(where: { value <= $0 }) { buckets[index] += 1 }
        sum += value
        count += 1
    }
}
