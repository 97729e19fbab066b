import ConcentratorCore
import Crypto
import _CryptoExtras
import Synchronization

/// What a dashboard account may do. Reading needs any role; sending a command needs operator or admin.
public enum DashboardRole: String, Hashable, Sendable, CaseIterable {
    case reader, `operator`, admin

    public var maySendCommands: Bool { self != .reader }
}

/// Password hashing with scrypt (memory-hard), as a self-describing string
/// `scrypt$<log2 N>$<r>$<p>$<salt hex>$<hash hex>`, so that stronger parameters can come later and old
/// hashes still verify. The default is OWASP's minimum for scrypt: N = 2^17, r = 8, p = 1 (128 MiB, a
/// few hundred milliseconds per login), with a 16-byte random salt and a 32-byte result.
public struct PasswordHasher: Sendable {
    public var logN: Int
    public var blockSize: Int
    public var parallelism: Int

    public static let standard = PasswordHasher(logN: 17, blockSize: 8, parallelism: 1)

    public init(logN: Int, blockSize: Int, parallelism: Int) {
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// Passwords shorter than this are refused by `headend users add`.
    public static let minimumLength = 12

    public func hash(_ password: String) throws(HeadEndWebError) -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = generator.next() }
        let derived = try Self.derive(password, salt: salt, logN: logN, r: blockSize, p: parallelism)
        return "scrypt$\(logN)$\(blockSize)$\(parallelism)$\(Hex.encode(salt))$\(Hex.encode(derived))"
    }

    /// True when `password` matches `stored`. The comparison is constant-time (`SymmetricKey`'s equality).
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
              (10...22).contains(logN), (1...32).contains(r), (1...16).contains(p),
              let salt = Hex.decode(parts[4]), let expected = Hex.decode(parts[5]), !expected.isEmpty,
              let derived = try? derive(password, salt: salt, logN: logN, r: r, p: p, length: expected.count) else { return false }
        return SymmetricKey(data: derived) == SymmetricKey(data: expected)
    }

    /// A hash of a random password, verified against when a login names an unknown user, so that
    /// unknown and known names take the same time.
    public static let decoy: String = (try? PasswordHasher.standard.hash(Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255) }))) ?? ""

    private static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int, length: Int = 32) throws(HeadEndWebError) -> [UInt8] {
        do {
            let key = try KDF.Scrypt.deriveKey(from: Array(password.utf8), salt: salt, outputByteCount: length, rounds: 1 << logN,
                                               blockSize: r, parallelism: p)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .passwordHashing("scrypt failed (\(error)); check: enough memory for N=2^\(logN), r=\(r)")
        }
    }
}

/// Why a dashboard operation failed. Never carries a password, a session token or a key.
public enum HeadEndWebError: Error, Hashable, Sendable, CustomStringConvertible {
    case passwordHashing(String)
    case invalidAddress(String)
    case invalidRequest(String)

    public var description: String {
        switch self {
        case .passwordHashing(let what): return "password hashing: \(what)"
        case .invalidAddress(let what): return what
        case .invalidRequest(let what): return what
        }
    }
}

/// A logged-in browser: who, which role, its CSRF token and when it expires.
public struct DashboardSession: Hashable, Sendable {
    public var user: String
    public var role: DashboardRole
    /// Every state-changing form carries this; a request without it is refused (synchroniser token).
    public var csrfToken: String
    public var created: Timestamp
    public var lastUsed: Timestamp
}

/// The sessions of logged-in browsers, in memory (a restart logs everyone out). The cookie holds a
/// random 256-bit token; the store keeps only its SHA-256, so a memory dump does not yield live cookies.
/// A session ends after `idleTimeout` without a request, after `absoluteTimeout` in any case, or at logout.
public final class DashboardSessions: Sendable {
    public let idleTimeout: Int64
    public let absoluteTimeout: Int64
    private let clock: any WallClock
    private let sessions = Mutex<[String: DashboardSession]>([:])

    public init(clock: any WallClock, idleTimeoutSeconds: Int64 = 1800, absoluteTimeoutSeconds: Int64 = 12 * 3600) {
        self.clock = clock
        self.idleTimeout = idleTimeoutSeconds * 1000
        self.absoluteTimeout = absoluteTimeoutSeconds * 1000
    }

    /// 32 random bytes from the system's generator, as hex.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Hex.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    private static func key(_ token: String) -> String { Hex.encode(Array(SHA256.hash(data: Array(token.utf8)))) }

    /// Starts a session; returns the cookie token (shown once) and the session.
    public func create(user: String, role: DashboardRole) -> (token: String, session: DashboardSession) {
        let now = clock.now()
        let token = Self.randomToken()
        let session = DashboardSession(user: user, role: role, csrfToken: Self.randomToken(), created: now, lastUsed: now)
        sessions.withLock { all in
            all = all.filter { !self.expired($0.value, now: now) }
            all[Self.key(token)] = session
        }
        return (token, session)
    }

    /// The live session of `token`, its idle time restarted; nil when unknown or expired (and then forgotten).
    public func session(for token: String) -> DashboardSession? {
        let now = clock.now(), key = Self.key(token)
        return sessions.withLock { all in
            guard var s = all[key] else { return nil }
            if expired(s, now: now) {
                all[key] = nil
                return nil
            }
            s.lastUsed = now
            all[key] = s
            return s
        }
    }

    public func end(_ token: String) { _ = sessions.withLock { $0.removeValue(forKey: Self.key(token)) } }

    /// Ends every session of `user` (after a password change or a removal).
    public func end(user: String) { sessions.withLock { all in all = all.filter { $0.value.user != user } } }

    public var count: Int { sessions.withLock { $0.count } }

    private func expired(_ s: DashboardSession, now: Timestamp) -> Bool {
        now.milliseconds - s.lastUsed.milliseconds >= idleTimeout || now.milliseconds - s.created.milliseconds >= absoluteTimeout
    }

    /// True when `submitted` is the session's CSRF token (constant-time comparison).
    public static func csrfMatches(_ session: DashboardSession, _ submitted: String?) -> Bool {
        guard let submitted, submitted.utf8.count == session.csrfToken.utf8.count else { return false }
        return SymmetricKey(data: Array(submitted.utf8)) == SymmetricKey(data: Array(session.csrfToken.utf8))
    }
}
