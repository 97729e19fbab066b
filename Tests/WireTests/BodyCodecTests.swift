import ConcentratorCore
import Testing
@testable import Wire

@Suite("Batch body codecs")
struct BodyCodecTests {
    @Test("interval body round-trips every field bit for bit")
    func intervalRoundTrip() throws {
        for (meters, intervals) in [(1, 1), (12, 3), (40, 1), (5, 24)] {
            let snapshots = Fixtures.awkwardSnapshots(meters: meters, intervals: intervals)
            let body = try IntervalBodyCodec.encode(snapshots)
            let decoded = try IntervalBodyCodec.decode(body)
            #expect(identical(decoded, snapshots), "\(meters) meters × \(intervals) intervals")
        }
    }

    @Test("input order is kept, including meter-major order and repeated layouts")
    func orderKept() throws {
        let snapshots = Fixtures.awkwardSnapshots(meters: 6, intervals: 4)
        let meterMajor = snapshots.sorted { ($0.meter, $0.intervalStart) < ($1.meter, $1.intervalStart) }
        #expect(identical(try IntervalBodyCodec.decode(try IntervalBodyCodec.encode(meterMajor)), meterMajor))
        let reversedValues = snapshots.map { s in
            var s = s
            s.values.reverse()
            return s
        }
        #expect(identical(try IntervalBodyCodec.decode(try IntervalBodyCodec.encode(reversedValues)), reversedValues))
    }

    @Test("a snapshot without values and a meter with only errors round-trip")
    func emptyAndDead() throws {
        let t = Fixtures.hour
        let snapshots = [
            MeterSnapshot(meter: "a", intervalStart: t, gatewayTime: t, values: []),
            MeterSnapshot(meter: "b", intervalStart: t, gatewayTime: t.adding(milliseconds: -5), meterTime: t.adding(seconds: -86_400),
                          values: [QuantityValue(quantity: "frequency", error: MeterErrorCode(rawValue: 0xFFFF))]),
        ]
        #expect(identical(try IntervalBodyCodec.decode(try IntervalBodyCodec.encode(snapshots)), snapshots))
    }

    @Test("counters related by sums are coded from each other, and still exactly")
    func referencesExact() throws {
        let t = Fixtures.hour
        var random = Fixtures.Random(state: 3)
        let snapshots = (0..<50).map { m -> MeterSnapshot in
            let t1 = Int64(random.below(5_000_000)), t2 = Int64(random.below(5_000_000))
            return MeterSnapshot(meter: MeterID("m\(m)"), intervalStart: t, gatewayTime: t, values: [
                QuantityValue(quantity: "active_energy_import", value: Double(t1 + t2) * 0.01),
                QuantityValue(quantity: "active_energy_import_t1", value: Double(t1) * 0.01),
                QuantityValue(quantity: "active_energy_import_t2", value: Double(t2) * 0.01),
            ])
        }
        let body = try IntervalBodyCodec.encode(snapshots)
        #expect(identical(try IntervalBodyCodec.decode(body), snapshots))
        // Meter table ≈ 191 bytes, two ~24-bit columns ≈ 294 bytes; coding t2 on its own would add ≈ 144 more.
        #expect(body.count < 600, "body is \(body.count) bytes")
    }

    @Test("a quantity outside the catalog and a cell with both value and error are refused")
    func encodingErrors() {
        let t = Fixtures.hour
        let unknown = [MeterSnapshot(meter: "m", intervalStart: t, gatewayTime: t, values: [QuantityValue(quantity: "nonsense", value: 1)])]
        #expect(throws: BatchEncodingError.unknownQuantity("nonsense", meter: "m")) { try IntervalBodyCodec.encode(unknown) }
        var both = QuantityValue(quantity: "frequency", value: 50)
        both.error = .noResponse
        let bad = [MeterSnapshot(meter: "m", intervalStart: t, gatewayTime: t, values: [both])]
        #expect(throws: BatchEncodingError.invalidCell(meter: "m", quantity: "frequency", intervalStart: t)) {
            try IntervalBodyCodec.encode(bad)
        }
        #expect(throws: BatchEncodingError.empty) { try IntervalBodyCodec.encode([]) }
    }

    @Test("event body round-trips, with and without meters")
    func eventsRoundTrip() throws {
        let events = Fixtures.vectorEvents + [
            GatewayEvent(time: Timestamp(milliseconds: -1), kind: GatewayEvent.Kind(rawValue: 999), severity: .critical,
                         message: "ünïcödé ✓"),
            GatewayEvent(time: Fixtures.hour, kind: .meterOnline, severity: .info, bus: "bus2", meter: "m-1", message: ""),
        ]
        let decoded = try EventBodyCodec.decode(try EventBodyCodec.encode(events))
        #expect(decoded == events)
        #expect(decoded[3].kind.description == "kind_999")
        #expect(GatewayEvent.Kind(name: "meter_offline") == .meterOffline)
        #expect(decoded[4].bus == "bus2")
    }

    @Test("integer sequences round-trip extreme values under every predictor")
    func integerExtremes() throws {
        let values: [Int64] = [.min, .max, 0, -1, 1, .max, .min, 42, -42, 1 << 40, 7, 7, 7]
        let meters = values.indices.map { $0 % 3 }
        let reference = values.map { $0 &* 3 }
        for predictor in [IntegerPredictor.none, .previous, .sameMeter, .references([ColumnReference(position: 0, negated: true)])] {
            let context = PredictionContext(meters: meters, meterCount: 3, position: 1, referenced: { _ in reference })
            var w = ByteWriter()
            IntegerSequenceCodec.write(values, predictor: predictor, context: context, into: &w)
            var r = ByteReader(w.bytes)
            #expect(try IntegerSequenceCodec.read(count: values.count, context: context, from: &r) == values, "\(predictor)")
            #expect(r.isAtEnd)
        }
    }

    @Test("bit packing at every width round-trips")
    func packingWidths() throws {
        var random = Fixtures.Random(state: 11)
        for width in 0...64 {
            let mask: UInt64 = width == 64 ? .max : (1 << UInt64(width)) - 1
            let values = (0..<37).map { _ in random.next() & mask }
            var w = ByteWriter()
            w.packed(values, width: width)
            #expect(w.bytes.count == (37 * width + 7) / 8)
            var r = ByteReader(w.bytes)
            #expect(try r.packed(count: 37, width: width, "values") == values, "width \(width)")
        }
    }

    @Test("decoders survive random bytes and mutated bodies with a typed error or a value, never a crash")
    func robustness() throws {
        var random = Fixtures.Random(state: 99)
        for _ in 0..<3000 {
            let junk = random.bytes(random.below(200))
            _ = try? IntervalBodyCodec.decode(junk)
            _ = try? EventBodyCodec.decode(junk)
        }
        let valid = try IntervalBodyCodec.encode(Fixtures.awkwardSnapshots(meters: 8, intervals: 2))
        let validEvents = try EventBodyCodec.encode(Fixtures.vectorEvents)
        for _ in 0..<3000 {
            var body = valid
            for _ in 0..<(1 + random.below(4)) { body[random.below(body.count)] = UInt8(truncatingIfNeeded: random.next()) }
            _ = try? IntervalBodyCodec.decode(body)
            var events = validEvents
            events[random.below(events.count)] = UInt8(truncatingIfNeeded: random.next())
            _ = try? EventBodyCodec.decode(events)
        }
        for cut in 0..<valid.count {
            #expect(throws: WireFormatError.self) { try IntervalBodyCodec.decode(Array(valid[..<cut])) }
        }
    }

    @Test("zstd decompression is bounded by the declared and allowed sizes")
    func zstdBounds() throws {
        let body = Array(repeating: UInt8(7), count: 100_000)
        let frame = Zstd.compress(body)
        #expect(try Zstd.frameContentSize(frame) == 100_000)
        #expect(try Zstd.decompress(frame, expectedSize: 100_000, maximumSize: 100_000) == body)
        #expect(throws: ZstdError.contentTooLarge(declared: 100_000, maximum: 99_999)) {
            try Zstd.decompress(frame, expectedSize: 100_000, maximumSize: 99_999)
        }
        #expect(throws: ZstdError.contentSizeMismatch(declared: 100_000, expected: 10)) {
            try Zstd.decompress(frame, expectedSize: 10, maximumSize: 1 << 20)
        }
        #expect(throws: ZstdError.self) { try Zstd.decompress(frame + [0], expectedSize: 100_000, maximumSize: 1 << 20) }
        var corrupt = frame
        corrupt[corrupt.count - 6] ^= 0xFF
        #expect(throws: ZstdError.self) { try Zstd.decompress(corrupt, expectedSize: 100_000, maximumSize: 1 << 20) }
        #expect(throws: ZstdError.self) { try Zstd.decompress([1, 2, 3], expectedSize: 3, maximumSize: 10) }
    }
}
