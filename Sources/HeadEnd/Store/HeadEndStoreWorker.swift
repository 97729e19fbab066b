import ConcentratorCore
import Platform

/// A `HeadEndStore` on a thread of its own, for async code: the head-end service's ingest, a web
/// dashboard's request handlers. Every call runs on that thread in order; nothing blocks Swift's
/// cooperative pool. Open several workers for parallel queries (each has its own connection).
public final class HeadEndStoreWorker: @unchecked Sendable {
    private let worker: SerialWorker
    private let store: any HeadEndStore
    public let location: String

    /// Opens the store with `open` on a new thread named `name`.
    public convenience init(name: String, open: @escaping @Sendable () throws(HeadEndError) -> any HeadEndStore) async throws(HeadEndError) {
        let worker = SerialWorker(name: name)
        let opened: Result<StoreBox, HeadEndError> = await (try? worker.run {
            Result { () throws(HeadEndError) -> StoreBox in StoreBox(store: try open()) }
        }) ?? .failure(.other("the database thread \(name) stopped"))
        try self.init(worker: worker, opened: opened)
    }

    /// Opens the store with `open` on a new thread named `name`, blocking the caller until it is open
    /// (for synchronous start-up code, never from an async context).
    @available(*, noasync)
    public convenience init(name: String, blockingOpen open: @escaping () throws(HeadEndError) -> any HeadEndStore) throws(HeadEndError) {
        let worker = SerialWorker(name: name)
        let opened: Result<StoreBox, HeadEndError> = (try? worker.runBlocking {
            Result { () throws(HeadEndError) -> StoreBox in StoreBox(store: try open()) }
        }) ?? .failure(.other("the database thread \(name) stopped"))
        try self.init(worker: worker, opened: opened)
    }

    private init(worker: SerialWorker, opened: Result<StoreBox, HeadEndError>) throws(HeadEndError) {
        switch opened {
        case .success(let box):
            self.worker = worker
            self.store = box.store
            self.location = box.store.location
        case .failure(let error):
            worker.stop()
            throw error
        }
    }

    /// Runs `body` with the store on the store's thread.
    public func run<T: Sendable>(_ body: @escaping @Sendable (any HeadEndStore) throws(HeadEndError) -> T) async throws(HeadEndError) -> T {
        let store = StoreBox(store: store)
        let result: Result<T, HeadEndError> = await (try? worker.run {
            Result { () throws(HeadEndError) -> T in try body(store.store) }
        }) ?? .failure(.other("the database thread stopped"))
        return try result.get()
    }

    /// Closes the store and ends the thread. The worker is unusable afterwards.
    public func close() async {
        let store = StoreBox(store: store)
        _ = try? await worker.run { store.store.close() }
        worker.stop()
    }

    /// Carries a store to and from its thread (it is only ever used there).
    private struct StoreBox: @unchecked Sendable {
        let store: any HeadEndStore
    }
}
