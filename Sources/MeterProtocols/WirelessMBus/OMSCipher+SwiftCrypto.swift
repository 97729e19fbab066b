import Crypto
import _CryptoExtras
import FoundationEssentials

/// `OMSCipher` on swift-crypto: AES-CBC from `AES._CBC` (no padding) and AES-CMAC from `AES.CMAC`,
/// both BoringSSL underneath. The only file of the M-Bus codecs that imports a crypto library.
public struct SwiftCryptoOMSCipher: OMSCipher {
    public init() {}

    public func decryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard key.count == 16, iv.count == 16, data.count % 16 == 0 else { return nil }
        if data.isEmpty { return [] }
        guard let ivValue = try? AES._CBC.IV(ivBytes: iv),
              let plain = try? AES._CBC.decrypt(data, using: SymmetricKey(data: key), iv: ivValue, noPadding: true) else { return nil }
        return Array(plain)
    }

    public func encryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard key.count == 16, iv.count == 16, data.count % 16 == 0 else { return nil }
        if data.isEmpty { return [] }
        guard let ivValue = try? AES._CBC.IV(ivBytes: iv),
              let sealed = try? AES._CBC.encrypt(data, using: SymmetricKey(data: key), iv: ivValue, noPadding: true) else { return nil }
        return Array(sealed)
    }

    public func cmac(_ data: [UInt8], key: [UInt8]) -> [UInt8]? {
        guard key.count == 16, var mac = try? AES.CMAC(key: SymmetricKey(data: key)) else { return nil }
        mac.update(data: data)
        return mac.finalize().withUnsafeBytes { Array($0) }
    }
}
