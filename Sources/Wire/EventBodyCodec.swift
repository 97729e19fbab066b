import ConcentratorCore

/// The body of an event batch: a meter table and a bus table, then each event's time (delta), meter,
/// bus, kind, severity and text. Pure. Layout: Docs/mqtt-api.md, "Event body".
public enum EventBodyCodec {
    public static func encode(_ events: [GatewayEvent]) throws(BatchEncodingError) -> [UInt8] {
        guard !events.isEmpty else { throw .empty }
        guard events.count <= BodyLimits.maximumEvents else {
            throw .tooLarge(what: "events", count: events.count, maximum: BodyLimits.maximumEvents)
        }
        var meters = NameTable()
        var buses = NameTable()
        for e in events {
            if let m = e.meter { try meters.add(m.rawValue, what: "meter id") }
            if let b = e.bus { try buses.add(b.rawValue, what: "bus name") }
            guard e.message.utf8.count <= BodyLimits.maximumEventTextBytes else {
                throw .textTooLong(what: "event text", bytes: e.message.utf8.count, maximum: BodyLimits.maximumEventTextBytes)
            }
        }
        var w = ByteWriter()
        meters.write(to: &w)
        buses.write(to: &w)
        w.varint(events.count)
        var previous: Int64 = 0
        for e in events {
            w.svarint(e.time.milliseconds &- previous)
            previous = e.time.milliseconds
            w.varint(meters.reference(e.meter?.rawValue))
            w.varint(buses.reference(e.bus?.rawValue))
            w.varint(UInt64(e.kind.rawValue))
            w.u8(e.severity.rawValue)
            w.string(e.message)
        }
        return w.bytes
    }

    /// Names used by the events, each written once; events refer to them by 1 + index (0 = none).
    private struct NameTable {
        private var index: [String: Int] = [:]
        private var names: [String] = []

        mutating func add(_ name: String, what: String) throws(BatchEncodingError) {
            guard index[name] == nil else { return }
            guard name.utf8.count <= BodyLimits.maximumMeterIDBytes else {
                throw .textTooLong(what: what, bytes: name.utf8.count, maximum: BodyLimits.maximumMeterIDBytes)
            }
            index[name] = names.count
            names.append(name)
        }

        func write(to w: inout ByteWriter) {
            w.varint(names.count)
            for n in names { w.string(n) }
        }

        func reference(_ name: String?) -> Int { name.flatMap { index[$0] }.map { $0 + 1 } ?? 0 }
    }

    public static func decode(_ bytes: [UInt8]) throws(WireFormatError) -> [GatewayEvent] {
        var r = ByteReader(bytes)
        let meters = try readNames(&r, "meter id")
        let buses = try readNames(&r, "bus name")
        let count = try r.count("event count", atMost: min(r.remaining, BodyLimits.maximumEvents))
        var events: [GatewayEvent] = []
        var previous: Int64 = 0
        for _ in 0..<count {
            let time = previous &+ (try r.svarint("event time"))
            previous = time
            let meterRef = try r.count("event meter", atMost: meters.count)
            let busRef = try r.count("event bus", atMost: buses.count)
            let kind = try r.count("event kind", atMost: Int(UInt16.max))
            let severityByte = try r.u8("event severity")
            guard let severity = GatewayEvent.Severity(rawValue: severityByte) else {
                throw WireFormatError("unknown event severity \(severityByte)", at: r.offset - 1)
            }
            let text = try r.string("event text", maximumBytes: BodyLimits.maximumEventTextBytes)
            events.append(GatewayEvent(time: Timestamp(milliseconds: time), kind: GatewayEvent.Kind(rawValue: UInt16(kind)),
                                       severity: severity, bus: busRef == 0 ? nil : BusName(buses[busRef - 1]),
                                       meter: meterRef == 0 ? nil : MeterID(meters[meterRef - 1]), message: text))
        }
        guard r.isAtEnd else { throw r.error("\(r.remaining) bytes after the last event") }
        return events
    }

    private static func readNames(_ r: inout ByteReader, _ what: String) throws(WireFormatError) -> [String] {
        let count = try r.count("\(what) count", atMost: min(r.remaining, BodyLimits.maximumEvents))
        var names: [String] = []
        for _ in 0..<count { names.append(try r.string(what, maximumBytes: BodyLimits.maximumMeterIDBytes)) }
        return names
    }
}
