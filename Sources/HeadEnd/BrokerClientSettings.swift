import ConcentratorCore
import Platform
import Uplink

/// Builds the MQTT client settings for a configured broker, reading the password and the TLS
/// pre-shared key from their files. A secret file must be private to its owner (no group or other
/// permission bits); its content never appears in an error.
public enum BrokerClientSettings {
    public static func make(_ broker: BrokerSettings, acknowledgementTimeout: Duration) throws(HeadEndError) -> MQTTClientSettings {
        guard let clientID = broker.clientID else {
            throw .invalidRequest("broker.clientId is missing; every head-end needs its own stable client id")
        }
        let password = try broker.passwordFile.map { path throws(HeadEndError) in MQTTSecret(try readSecret(path)) }
        var tls: MQTTTLSSettings?
        if let t = broker.tls {
            var settings = MQTTTLSSettings(caFile: t.caFile, certificateFile: t.certificateFile, keyFile: t.keyFile)
            if let identity = t.pskIdentity, let file = t.pskFile {
                settings.preSharedKey = MQTTPreSharedKey(identity: identity, keyHex: MQTTSecret(try readSecret(file)))
            }
            tls = settings
        }
        return MQTTClientSettings(host: broker.host, port: UInt16(clamping: broker.port), clientID: clientID,
                                  keepaliveSeconds: broker.keepaliveSeconds,
                                  sessionExpirySeconds: UInt32(clamping: broker.sessionExpirySeconds),
                                  cleanStart: false, username: broker.username, password: password, tls: tls,
                                  acknowledgementTimeout: acknowledgementTimeout)
    }

    /// The first line of a secret file, without its line break.
    static func readSecret(_ path: String) throws(HeadEndError) -> String {
        guard let mode = FileSystem.mode(path) else { throw .secretFile(path: path, problem: "does not exist") }
        guard mode & 0o077 == 0 else {
            throw .secretFile(path: path, problem: "has mode \(String(mode, radix: 8)); secret files must be 600 (run: chmod 600 \(path))")
        }
        let text: String
        do { text = try FileSystem.readText(path) } catch { throw .secretFile(path: path, problem: error.reason) }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let secret = line.hasSuffix("\r") ? String(line.dropLast()) : line
        guard !secret.isEmpty else { throw .secretFile(path: path, problem: "is empty") }
        return secret
    }
}
