// libFuzzer entry point for the JSON parser and encoder.
//
// Any input must either be rejected with a JSONParseError (never a crash), or parse to a value
// that encodes to JSON which parses back to an equal value and re-encodes to identical bytes.
// The I-JSON policy accepts exactly the inputs the default accepts minus numbers out of range,
// and gives the same value.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let value: JSONValue
    do {
        value = try JSONValue.parse(input, maxDepth: 128)
    } catch {
        // Errors must point inside the input (or just past its end).
        precondition(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside input of \(size) bytes")
        precondition(error.line >= 1 && error.column >= 1, "bad error position \(error.line):\(error.column)")
        precondition((try? JSONValue.parse(input, maxDepth: 128, numbers: .interoperable)) == nil, "I-JSON accepted what JSON refused")
        return 0
    }
    do {
        let interoperable = try JSONValue.parse(input, maxDepth: 128, numbers: .interoperable)
        precondition(interoperable == value, "the I-JSON policy changed the value")
    } catch {
        precondition(error.code == .numberOutOfRange, "I-JSON refused valid JSON for another reason: \(error)")
        precondition(error.offset >= 0 && error.offset < size, "I-JSON error offset \(error.offset) outside input of \(size) bytes")
    }
    let encoded = value.encodedBytes()
    let reparsed: JSONValue
    do {
        reparsed = try JSONValue.parse(encoded, maxDepth: 128)
    } catch {
        fatalError("encoded output does not parse: \(error); output: \(String(decoding: encoded, as: UTF8.self))")
    }
    precondition(reparsed == value, "round trip changed the value: \(String(decoding: encoded, as: UTF8.self))")
    precondition(reparsed.encodedBytes() == encoded, "re-encoding is not stable")
    return 0
}
