/// `OMSCipher` on the project's own AES-128 block (`AES128`): CBC without padding (NIST SP 800-38A §6.2)
/// and AES-CMAC (RFC 4493). The production cipher of the M-Bus and wireless M-Bus codecs.
public struct AESOMSCipher: OMSCipher {
    public init() {}

    public func decryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard iv.count == 16, data.count % 16 == 0, let aes = AES128(key: key) else { return nil }
        var plain: [UInt8] = []
        plain.reserveCapacity(data.count)
        var previous = iv
        for start in stride(from: 0, to: data.count, by: 16) {
            let block = Array(data[start..<(start + 16)])
            plain += Self.xor(aes.decrypt(block), previous)
            previous = block
        }
        return plain
    }

    public func encryptCBC(_ data: [UInt8], key: [UInt8], iv: [UInt8]) -> [UInt8]? {
        guard iv.count == 16, data.count % 16 == 0, let aes = AES128(key: key) else { return nil }
        var sealed: [UInt8] = []
        sealed.reserveCapacity(data.count)
        var previous = iv
        for start in stride(from: 0, to: data.count, by: 16) {
            previous = aes.encrypt(Self.xor(Array(data[start..<(start + 16)]), previous))
            sealed += previous
        }
        return sealed
    }

    /// RFC 4493 §2.3–2.4: subkeys K1, K2 from E(K, 0); the last block XORed with K1 when whole, else
    /// padded with 0x80 0x00… and XORed with K2; CBC-MAC over the blocks with a zero IV.
    public func cmac(_ data: [UInt8], key: [UInt8]) -> [UInt8]? {
        guard let aes = AES128(key: key) else { return nil }
        let firstSubkey = Self.shiftedSubkey(aes.encrypt([UInt8](repeating: 0, count: 16)))
        let blockCount = max(1, (data.count + 15) / 16)
        let lastStart = (blockCount - 1) * 16
        var last = Array(data[lastStart...])
        if last.count == 16 {
            last = Self.xor(last, firstSubkey)
        } else {
            last.append(0x80)
            last += [UInt8](repeating: 0, count: 16 - last.count)
            last = Self.xor(last, Self.shiftedSubkey(firstSubkey))
        }
        var chain = [UInt8](repeating: 0, count: 16)
        for start in stride(from: 0, to: lastStart, by: 16) {
            chain = aes.encrypt(Self.xor(chain, Array(data[start..<(start + 16)])))
        }
        return aes.encrypt(Self.xor(chain, last))
    }

    /// One left shift of the 128-bit value, XORing R_128 (0x87) into the last byte when the top bit fell out.
    private static func shiftedSubkey(_ value: [UInt8]) -> [UInt8] {
        var shifted = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 {
            shifted[index] = (value[index] << 1) | (index < 15 ? value[index + 1] >> 7 : 0)
        }
        if value[0] & 0x80 != 0 { shifted[15] ^= 0x87 }
        return shifted
    }

    private static func xor(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        zip(left, right).map { $0 ^ $1 }
    }
}
