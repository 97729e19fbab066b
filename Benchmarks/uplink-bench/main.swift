// uplink-bench: bytes on the wire per value for sealed batches, compared with gzip(JSON), and the
// head-end ingest rate (verify + open + decompress + decode) on one core, without and with storage in the
// head-end's database. Prints JSON; never fails on timing.
#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import FleetSimulation
import Platform
import Wire

let deviceID = "gw-000123"
let topics = UplinkTopics(deviceID: deviceID)!
let deviceKey = SigningPrivateKey.generate()
let headEndKey = AgreementPrivateKey.generate()
let sealer = try BatchSealer(deviceID: deviceID, signingKey: deviceKey, headEndSealingKey: headEndKey.publicKey)
let opener = BatchOpener(sealingKeys: [headEndKey], devices: RegisteredDevices([deviceID: [deviceKey.publicKey]]))
let ackKey = SigningPrivateKey.generate()
let hourly = IntervalSchedule(minutes: 60)
let firstHour = Timestamp(seconds: 1_795_000_000 / 3600 * 3600)

/// MQTT v5 bytes around one QoS 1 PUBLISH besides its payload, plus the broker's PUBACK
/// (MQTT 5.0 §3.3 and §3.4): fixed header (1 + remaining-length varint), topic (2 + length),
/// packet identifier (2), property length (1, no properties); PUBACK 2 + 2 (reason code omitted on success).
func mqttOverhead(topic: String, payload: Int) -> Int {
    let variable = 2 + topic.utf8.count + 2 + 1
    let remaining = variable + payload
    var lengthBytes = 1
    while remaining >= 1 << (7 * lengthBytes) { lengthBytes += 1 }
    return 1 + lengthBytes + variable + 4
}

func jsonDocument(_ snapshots: [MeterSnapshot]) -> String {
    let rows: [JSONValue] = snapshots.map { s in
        var members = [JSONMember(key: "meter", value: .string(s.meter.rawValue)),
                       JSONMember(key: "intervalStart", value: .number(0, text: "\(s.intervalStart.milliseconds)")),
                       JSONMember(key: "gatewayTime", value: .number(0, text: "\(s.gatewayTime.milliseconds)"))]
        if let t = s.meterTime { members.append(JSONMember(key: "meterTime", value: .number(0, text: "\(t.milliseconds)"))) }
        if s.clockUnsynced { members.append(JSONMember(key: "clockUnsynced", value: .bool(true))) }
        let values: [JSONMember] = s.values.map { v in
            if let d = v.value { return JSONMember(key: v.quantity.rawValue, value: .number(d, text: "\(d)")) }
            return JSONMember(key: v.quantity.rawValue, value: .object([
                JSONMember(key: "error", value: .number(0, text: "\(v.error?.rawValue ?? 0)")),
            ]))
        }
        members.append(JSONMember(key: "values", value: .object(values)))
        return .object(members)
    }
    return JSONWriter.render(.array(rows), pretty: false)
}

/// Size of `text` after `gzip -9`, run as a subprocess (the package links no zlib). Nil when gzip is missing.
func gzipSize(_ text: String) -> Int? {
    var template = Array("/tmp/uplink-bench-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { return nil }
    let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    close(fd)
    defer { unlink(path) }
    do { try FileSystem.writeAtomically(text, to: path) } catch { return nil }
    guard let pipe = popen("gzip -9 -c '\(path)' 2>/dev/null | wc -c", "r") else { return nil }
    var buffer = [CChar](repeating: 0, count: 64)
    let line = fgets(&buffer, 64, pipe) != nil ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    let status = pclose(pipe)
    guard status == 0, let n = Int(line.trimmingCharacters(in: " \n")), n > 20 else { return nil }
    return n
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s = s.dropFirst() }
        while let c = s.last, set.contains(c) { s = s.dropLast() }
        return String(s)
    }
}

func rounded(_ x: Double, _ places: Double = 1000) -> JSONValue {
    let r = (x * places).rounded() / places
    return .number(r, text: "\(r)")
}

func integer(_ n: Int) -> JSONValue { .number(Double(n), text: "\(n)") }

func measure(_ name: String, float32Share: Double, intervals: Int) throws -> JSONValue {
    var fleet = Fleet(count: 256, float32Share: float32Share, seed: 2026)
    var snapshots: [MeterSnapshot] = []
    for h in 0..<intervals { snapshots += fleet.interval(start: firstHour.adding(seconds: Int64(h) * 3600)) }
    let valueCount = snapshots.reduce(0) { $0 + $1.values.count }
    let content = BatchContent.snapshots(.interval, interval: hourly, snapshots)

    let body = try BatchSealer.encodeBody(content)
    let compressed = Zstd.compress(body, level: 19)
    let clock = ContinuousClock()
    var sealed: SealedBatch?
    var sealTimes: [Duration] = []
    for i in 0..<5 {
        let t0 = clock.now
        sealed = try sealer.seal(content, sequence: UInt64(i + 1), backfill: intervals > 1)
        sealTimes.append(clock.now - t0)
    }
    let message = sealed!.bytes
    let topic = topics.batch
    let publishOverhead = mqttOverhead(topic: topic, payload: message.count)
    let ack = BatchAck(deviceID: deviceID, sequence: 1, batchDigest: sealed!.digest, status: .accepted, keyID: ackKey.id)
        .encoded(signedBy: ackKey)
    let ackOverhead = ack.count + mqttOverhead(topic: topics.ack, payload: ack.count)

    // Head-end ingest on this thread: verify + open + decompress + decode, repeated for about a second.
    var opened = 0
    let t0 = clock.now
    var elapsed = Duration.zero
    while elapsed < .seconds(1) || opened < 3 {
        let batch = try opener.open(message)
        if case .snapshots(_, _, let decoded) = batch.content, decoded.count != snapshots.count { fatalError("decode mismatch") }
        opened += 1
        elapsed = clock.now - t0
    }
    guard case .snapshots(_, _, let decoded) = try opener.open(message).content, decoded == snapshots else {
        fatalError("round trip lost data in \(name)")
    }
    let ingestSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18

    // The same with storage: distinct batches (later intervals, new sequences) sealed beforehand, about 1 M values.
    var storeFleet = Fleet(count: 256, float32Share: float32Share, seed: 77)
    var storedBatches: [SealedBatch] = []
    var storedValues = 0
    for b in 0..<max(8, 1_000_000 / valueCount) {
        var batchSnapshots: [MeterSnapshot] = []
        for h in 0..<intervals {
            batchSnapshots += storeFleet.interval(start: firstHour.adding(seconds: Int64(1000 + b * intervals + h) * 3600))
        }
        storedValues += batchSnapshots.reduce(0) { $0 + $1.values.count }
        storedBatches.append(try sealer.seal(.snapshots(.interval, interval: hourly, batchSnapshots), sequence: UInt64(1000 + b),
                                             backfill: intervals > 1))
    }
    let stored = try measureStoredIngest(batches: storedBatches, values: storedValues, deviceKey: deviceKey, sealingKey: headEndKey,
                                         ackKey: ackKey)
    let json = jsonDocument(snapshots)
    let gz = gzipSize(json)
    let jsonZstd = Zstd.compress(Array(json.utf8), level: 19).count
    let sealMs = sealTimes.map { Double($0.components.attoseconds) / 1e15 + Double($0.components.seconds) * 1000 }.sorted()[2]

    var members = [
        JSONMember(key: "case", value: .string(name)),
        JSONMember(key: "meters", value: integer(256)),
        JSONMember(key: "intervals", value: integer(intervals)),
        JSONMember(key: "values", value: integer(valueCount)),
        JSONMember(key: "float32MeterShare", value: rounded(float32Share)),
        JSONMember(key: "bodyBytes", value: integer(body.count)),
        JSONMember(key: "zstdBodyBytes", value: integer(compressed.count)),
        JSONMember(key: "payloadBytes", value: integer(message.count)),
        JSONMember(key: "sealingOverheadBytes", value: integer(message.count - compressed.count)),
        JSONMember(key: "mqttOverheadBytes", value: integer(publishOverhead)),
        JSONMember(key: "bytesPerValue", value: rounded(Double(message.count + publishOverhead) / Double(valueCount))),
        JSONMember(key: "ackBytesIncludingMqtt", value: integer(ackOverhead)),
        JSONMember(key: "bytesPerValueWithAck", value: rounded(Double(message.count + publishOverhead + ackOverhead) / Double(valueCount))),
        JSONMember(key: "jsonBytes", value: integer(json.utf8.count)),
        JSONMember(key: "zstd19JsonBytes", value: integer(jsonZstd)),
        JSONMember(key: "zstd19JsonBytesPerValue", value: rounded(Double(jsonZstd) / Double(valueCount))),
    ]
    if let gz {
        members.append(JSONMember(key: "gzip9JsonBytes", value: integer(gz)))
        members.append(JSONMember(key: "gzip9JsonBytesPerValue", value: rounded(Double(gz) / Double(valueCount))))
    }
    members += [
        JSONMember(key: "sealMilliseconds", value: rounded(sealMs)),
        JSONMember(key: "ingestBatchesPerSecond", value: rounded(Double(opened) / ingestSeconds, 10)),
        JSONMember(key: "ingestValuesPerSecond", value: integer(Int(Double(opened * valueCount) / ingestSeconds))),
        JSONMember(key: "storedIngestBatches", value: integer(stored.batches)),
        JSONMember(key: "storedIngestBatchesPerSecond", value: rounded(Double(stored.batches) / stored.seconds, 10)),
        JSONMember(key: "storedIngestValuesPerSecond", value: integer(Int(Double(stored.values) / stored.seconds))),
        JSONMember(key: "storedBytesPerValue", value: rounded(Double(stored.databaseBytes) / Double(stored.values))),
    ]
    return .object(members)
}

let cases: [JSONValue] = try [
    measure("hourly, mixed fleet (40 % float32 meters)", float32Share: 0.4, intervals: 1),
    measure("hourly, scaled-integer register meters", float32Share: 0, intervals: 1),
    measure("hourly, float32 meters with full noise", float32Share: 1, intervals: 1),
    measure("backfill, 24 hours in one batch, mixed fleet", float32Share: 0.4, intervals: 24),
]
print(JSONWriter.render(.object([
    JSONMember(key: "benchmark", value: .string("uplink")),
    JSONMember(key: "zstd", value: .string(Zstd.libraryVersion)),
    JSONMember(key: "note", value: .string("bytesPerValue = (sealed payload + MQTT v5 QoS 1 PUBLISH header + PUBACK) / values; "
        + "TCP/TLS framing excluded; gzip9Json from `gzip -9` run as a subprocess; ingest = verify + open + decompress + decode on one thread; "
        + "storedIngest = the head-end's IngestProcessor on one thread: the same plus dedup, one SQLite transaction per batch "
        + "(WAL, synchronous=FULL, database under $BENCH_DIR or /tmp) and the signed ack; storedBytesPerValue = database size / values")),
    JSONMember(key: "cases", value: .array(cases)),
]), pretty: true))
