import RateLimitCore

// MARK: - LimitReqSyntax

/// The values shared by the `-limit-req` flag and the JSON rate-limit configuration: rates,
/// zone sizes, keys, zone names and counts. Each parser returns the value or the reason it is
/// wrong, which names what would be right; callers prefix the token or field.
enum LimitReqSyntax {
    /// `10r/s`, `30r/m`.
    static func rate(_ text: String) -> Result<LimitRate, Reason> {
        let unit = LimitRate.Unit.allCases.first { text.hasSuffix($0.rawValue) }
        guard let unit else {
            if text.utf8.allSatisfy(isDigit), !text.isEmpty {
                return .failure(Reason("add the unit, r/s or r/m (e.g. \(text)r/s)"))
            }
            if let slash = text.firstIndex(of: "/"), text[..<slash].last == "r" {
                return .failure(Reason("unit must be r/s or r/m"))
            }
            return .failure(Reason("expected requests per second or per minute, e.g. 10r/s or 30r/m"))
        }
        let number = String(text.dropLast(unit.rawValue.count))
        guard let requests = wholeNumber(number), (1...LimitRate.maximumRequests).contains(requests) else {
            return .failure(Reason("the number of requests must be a whole number from 1 to \(LimitRate.maximumRequests); "
                + "for less than one request a second use r/m (e.g. 30r/m)"))
        }
        return .success(LimitRate(requests: requests, per: unit))
    }

    /// nginx's size syntax: bytes, or a number with `k`/`K` or `m`/`M`; `32k` to `65536m`.
    static func size(_ text: String) -> Result<Int, Reason> {
        let valid = "a zone size from 32k to 65536m: bytes, or a whole number with k or m, e.g. 10m"
        var digits = Substring(text)
        var multiplier = 1
        if let last = text.last, "kKmM".contains(last) {
            digits = digits.dropLast()
            multiplier = last == "k" || last == "K" ? 1024 : 1024 * 1024
        }
        guard let number = wholeNumber(String(digits)) else { return .failure(Reason("expected \(valid)")) }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow, (LimitReqZone.minimumSize...LimitReqZone.maximumSize).contains(bytes) else {
            return .failure(Reason("expected \(valid) (nginx's smallest zone is 32k, 8 pages)"))
        }
        return .success(bytes)
    }

    /// `addr`, `app_id` or `header:NAME` (an HTTP field name, kept in lower case).
    static func key(_ text: String) -> Result<RateLimitKeySource, Reason> {
        switch text {
        case "addr": return .success(.address)
        case "app_id": return .success(.appID)
        default: break
        }
        if text.hasPrefix("header:") {
            let name = text.dropFirst("header:".count)
            guard !name.isEmpty, name.utf8.count <= 256, name.utf8.allSatisfy(HTTPToken.isTokenByte) else {
                return .failure(Reason("the header name must be an HTTP field name such as header:x-api-user"))
            }
            return .success(.header(name.lowercased()))
        }
        return .failure(Reason("expected addr (the client address), app_id (the API key's app_id) or header:NAME"))
    }

    /// A zone name: 1 to 64 letters, digits, `_`, `-` or `.`.
    static func zoneName(_ text: String) -> Result<String, Reason> {
        let valid = !text.isEmpty && text.utf8.count <= 64 && text.utf8.allSatisfy { isDigit($0) || isLetter($0) || "_-.".utf8.contains($0) }
        guard valid else {
            return .failure(Reason("a zone name is 1 to 64 letters, digits, '_', '-' or '.', e.g. per_client"))
        }
        return .success(text)
    }

    /// A count from 1 to ``LimitReq/maximumBurst`` (bursts and delays).
    static func count(_ text: String, what: String, absent: String) -> Result<Int, Reason> {
        guard let value = wholeNumber(text), (1...LimitReq.maximumBurst).contains(value) else {
            return .failure(Reason("\(what) must be a whole number from 1 to \(LimitReq.maximumBurst) (\(absent))"))
        }
        return .success(value)
    }

    /// A rejection status, 400 to 599 as nginx's `limit_req_status`.
    static func status(_ text: String) -> Result<Int, Reason> {
        guard let value = wholeNumber(text), LimitReq.statusRange.contains(value) else {
            return .failure(Reason("the status must be from 400 to 599, e.g. 429 or 503"))
        }
        return .success(value)
    }

    // MARK: Characters

    /// Digits only (no sign, no spaces), at most 18 of them.
    static func wholeNumber(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy(isDigit) else { return nil }
        return Int(text)
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    /// Why a value is wrong.
    struct Reason: Error, Hashable, Sendable {
        let text: String
        init(_ text: String) { self.text = text }
    }
}
