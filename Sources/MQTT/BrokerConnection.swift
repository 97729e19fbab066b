import ConcentratorCore
import Platform

/// Why a broker secret file (password, pre-shared key) cannot be used. Never holds the secret.
public struct SecretFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
}

extension MQTTClientSettings {
    /// The client settings for a configured broker (the agent's `uplink.broker`, the head-end's
    /// `broker`), reading the password and the TLS pre-shared key from their files.
    public init(broker: BrokerSettings, clientID: String, will: MQTTWill? = nil,
                acknowledgementTimeout: Duration = .seconds(30)) throws(SecretFileError) {
        let password = try broker.passwordFile.map { path throws(SecretFileError) in MQTTSecret(try Self.readSecret(path)) }
        var tls: MQTTTLSSettings?
        if let t = broker.tls {
            var settings = MQTTTLSSettings(caFile: t.caFile, certificateFile: t.certificateFile, keyFile: t.keyFile)
            if let identity = t.pskIdentity, let file = t.pskFile {
                settings.preSharedKey = MQTTPreSharedKey(identity: identity, keyHex: MQTTSecret(try Self.readSecret(file)))
            }
            tls = settings
        }
        self.init(host: broker.host, port: UInt16(clamping: broker.port), clientID: clientID, keepaliveSeconds: broker.keepaliveSeconds,
                  sessionExpirySeconds: UInt32(clamping: broker.sessionExpirySeconds), cleanStart: false, username: broker.username,
                  password: password, tls: tls, will: will, acknowledgementTimeout: acknowledgementTimeout)
    }

    /// The first line of a secret file, without its line break. The file must be private to its owner
    /// (no group or other permission bits); its content never appears in an error.
    public static func readSecret(_ path: String) throws(SecretFileError) -> String {
        guard let mode = FileSystem.mode(path) else { throw SecretFileError(path: path, problem: "does not exist") }
        guard mode & 0o077 == 0 else {
            throw SecretFileError(path: path, problem: "has mode \(String(mode, radix: 8)); secret files must be 600 (run: chmod 600 \(path))")
        }
        let text: String
        do { text = try FileSystem.readText(path) } catch { throw SecretFileError(path: path, problem: error.reason) }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let secret = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !secret.isEmpty else { throw SecretFileError(path: path, problem: "is empty") }
        return secret
    }
}
