import ConcentratorCore

/// Opens the store a database setting names.
public enum HeadEndStores {
    /// Opens (creating and migrating when needed) the store for reading and writing.
    /// `now` decides which monthly partitions a PostgreSQL store creates ahead.
    public static func open(_ location: HeadEndDatabaseLocation, busyTimeoutMilliseconds: Int = 10_000, now: Timestamp,
                            applicationName: String = "headend") throws(HeadEndError) -> any HeadEndStore {
        switch location {
        case .sqlite(let path): return try HeadEndDatabase.open(path: path, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
        case .postgres(let url): return try PostgresHeadEndStore.open(url: url, now: now, applicationName: applicationName)
        }
    }

    /// Opens an existing store for queries (status, export) while head-ends may be writing it.
    public static func openForReading(_ location: HeadEndDatabaseLocation) throws(HeadEndError) -> any HeadEndStore {
        switch location {
        case .sqlite(let path): return try HeadEndDatabase.openForReading(path: path)
        case .postgres(let url): return try PostgresHeadEndStore.openForReading(url: url)
        }
    }
}
