#if canImport(Glibc)
import Glibc
#endif
import ConcentratorCore
import HeadEnd
import Logging
import Platform
import Wire

/// The head-end's ingest rate with storage: `IngestProcessor.process` on one thread, for pre-sealed
/// batches with distinct sequences and intervals: parse, verify, open, decompress, decode, dedup
/// check, insert the batch record and every snapshot in one transaction, commit (WAL,
/// synchronous = FULL: one fsync per batch), sign the ack.
struct StoredIngestResult {
    var batches: Int
    var values: Int
    var seconds: Double
    var databaseBytes: Int64
    var databaseDirectory: String
}

func measureStoredIngest(batches: [SealedBatch], values: Int, deviceKey: SigningPrivateKey, sealingKey: AgreementPrivateKey,
                         ackKey: SigningPrivateKey) throws -> StoredIngestResult {
    let base = getenv("BENCH_DIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array("\(base)/headend-bench-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw HeadEndError.other("cannot create a directory under \(base)")
    }
    let directory = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let path = FileSystem.join(directory, "headend.sqlite")
    defer {
        for suffix in ["", "-wal", "-shm"] { FileSystem.remove(path + suffix) }
        rmdir(directory)
    }
    let database = try HeadEndDatabase.open(path: path)
    defer { database.close() }
    let deviceID = batches[0].header.deviceID
    try database.registerDevice(deviceID, keys: [PublicKeyDocument(deviceKey.publicKey, role: "device", device: deviceID)],
                                at: Timestamp(seconds: 0))
    let processor = try IngestProcessor(database: database, keys: HeadEndPrivateKeys(sealingKeys: [sealingKey], ackKey: ackKey),
                                        topicPrefix: UplinkTopics.prefix, logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
    let topic = UplinkTopics(deviceID: deviceID)!.batch
    let messages = batches.map(\.bytes)
    let clock = ContinuousClock()
    let t0 = clock.now
    for message in messages {
        let outcome = processor.process(topic: topic, payload: message, now: Timestamp(seconds: 1_800_000_000))
        guard case .stored = outcome.result, outcome.ack != nil else { fatalError("batch not stored: \(outcome.result)") }
    }
    let elapsed = clock.now - t0
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let size = ["", "-wal"].compactMap { FileSystem.size(path + $0) }.reduce(0, +)
    return StoredIngestResult(batches: messages.count, values: values, seconds: seconds,
                              databaseBytes: size, databaseDirectory: base)
}
