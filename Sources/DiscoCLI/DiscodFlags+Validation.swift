import DiscoCore
import DiscoSystem

// MARK: - Warnings during -validate

extension DiscodFlags {
    /// Where a program's own checks report, during `-validate`, the warnings a start would log
    /// about its settings (a certificate that has expired or is not valid yet, which would still
    /// serve): standard error, at `-log-level` in `-log-format`, under `label`. Nil when the
    /// program is to start: the services it runs log them then.
    public func validationLogger(_ parsed: ParsedFlags, label: String) -> Logger? {
        guard parsed[validate] else { return nil }
        return Logger(label: flagSet.programName, level: parsed[logLevel], handler: parsed[logFormat].handler()).withLabel(label)
    }
}
