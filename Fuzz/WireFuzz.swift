// libFuzzer entry for the decoders of untrusted input besides Modbus: the JSON parser (configs,
// profiles, board files, control requests, command bodies), the configuration and profile loaders,
// and the sealed batch bodies the head-end decodes after opening (interval and event bodies). Built
// and run by scripts/fuzz.sh wire, against the ConcentratorCore and Wire modules. Besides "never
// crash", it checks that every body the decoders accept decodes again to the same values after
// re-encoding.
import ConcentratorCore
import Wire

private let context = ConfigurationContext(profiles: [
    "eastron-sdm630": .init(protocolKind: .modbus, quantities: ["voltage_l1", "active_energy_import"]),
])

@_cdecl("LLVMFuzzerTestOneInput")
public func wireFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let selector = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    switch selector % 5 {
    case 0:
        if let value = try? JSONParser.parse(input) {
            // What the writer renders parses back to the same value.
            let again = try? JSONParser.parse(JSONWriter.render(value, pretty: selector & 8 != 0))
            precondition(again.map { render($0) } == render(value), "JSON render/parse round trip changed the value")
        }
    case 1:
        _ = try? ConfigurationLoader.load(text: String(decoding: input, as: UTF8.self), source: "fuzz", context: context)
    case 2:
        _ = try? MeterProfileLoader.parse(bytes: input, source: "fuzz")
    case 3:
        if let snapshots = try? IntervalBodyCodec.decode(input), !snapshots.isEmpty,
           let encoded = try? IntervalBodyCodec.encode(snapshots) {
            let again = try? IntervalBodyCodec.decode(encoded)
            precondition(again.map { $0.map(\.values) .count } == snapshots.count, "interval body round trip lost snapshots")
        }
    default:
        if let events = try? EventBodyCodec.decode(input), !events.isEmpty, let encoded = try? EventBodyCodec.encode(events) {
            precondition((try? EventBodyCodec.decode(encoded)) == events, "event body round trip changed the events")
        }
    }
    return 0
}

/// A canonical text of a value (numbers by their value, so 1.0 and 1.00 compare equal).
private func render(_ value: JSONValue) -> String {
    switch value {
    case .number(let d, _): return "\(d)"
    case .array(let items): return "[" + items.map(render).joined(separator: ",") + "]"
    case .object(let members): return "{" + members.map { JSONWriter.quote($0.key) + ":" + render($0.value) }.joined(separator: ",") + "}"
    default: return JSONWriter.render(value, pretty: false)
    }
}
