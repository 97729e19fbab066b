/// AES-128 on one 16-byte block (FIPS-197), encrypt and decrypt: the block primitive under OMS's
/// CBC and CMAC (`AESOMSCipher`). Written here rather than taken from swift-crypto because
/// swift-crypto offers raw blocks only through `_CryptoExtras`, which would add about a megabyte
/// (with SwiftASN1) to the gateway binary for two modes of operation (Docs/benchmarks.md, footprint).
/// Byte-table AES: table lookups depend on the key and data, so it is not hardened against cache-timing
/// observers on the same machine; OMS meter keys are per meter and the gateway runs no foreign code.
struct AES128 {
    /// The 11 round keys, 16 bytes each, in round order (FIPS-197 §5.2).
    private let roundKeys: [UInt8]

    /// Expands a 16-byte key; nil for any other length.
    init?(key: [UInt8]) {
        guard key.count == 16 else { return nil }
        var words = key
        words.reserveCapacity(176)
        var roundConstant: UInt8 = 1
        for index in stride(from: 16, to: 176, by: 4) {
            var word = Array(words[(index - 4)..<index])
            if index % 16 == 0 {
                word = [AESTables.substitution[Int(word[1])] ^ roundConstant, AESTables.substitution[Int(word[2])],
                        AESTables.substitution[Int(word[3])], AESTables.substitution[Int(word[0])]]
                roundConstant = AESTables.double(roundConstant)
            }
            for offset in 0..<4 { words.append(words[index - 16 + offset] ^ word[offset]) }
        }
        roundKeys = words
    }

    /// Encrypts one 16-byte block (the caller guarantees the length).
    func encrypt(_ block: [UInt8]) -> [UInt8] {
        var state = block
        addRoundKey(0, to: &state)
        for round in 1...10 {
            state = Self.shiftRows(state.map { AESTables.substitution[Int($0)] })
            if round < 10 { Self.mixColumns(&state) }
            addRoundKey(round, to: &state)
        }
        return state
    }

    /// Decrypts one 16-byte block (the caller guarantees the length).
    func decrypt(_ block: [UInt8]) -> [UInt8] {
        var state = block
        addRoundKey(10, to: &state)
        for round in stride(from: 9, through: 0, by: -1) {
            state = Self.inverseShiftRows(state).map { AESTables.inverseSubstitution[Int($0)] }
            addRoundKey(round, to: &state)
            if round > 0 { Self.inverseMixColumns(&state) }
        }
        return state
    }

    private func addRoundKey(_ round: Int, to state: inout [UInt8]) {
        for index in 0..<16 { state[index] ^= roundKeys[round * 16 + index] }
    }

    /// Row r (bytes r, r+4, r+8, r+12 of the column-major state) rotates left by r.
    private static func shiftRows(_ state: [UInt8]) -> [UInt8] {
        (0..<16).map { index in state[(index + 4 * (index % 4)) % 16] }
    }

    private static func inverseShiftRows(_ state: [UInt8]) -> [UInt8] {
        (0..<16).map { index in state[(index + 16 - 4 * (index % 4)) % 16] }
    }

    private static func mixColumns(_ state: inout [UInt8]) {
        for column in stride(from: 0, to: 16, by: 4) {
            let a0 = state[column], a1 = state[column + 1], a2 = state[column + 2], a3 = state[column + 3]
            let d0 = AESTables.double(a0), d1 = AESTables.double(a1), d2 = AESTables.double(a2), d3 = AESTables.double(a3)
            state[column] = d0 ^ d1 ^ a1 ^ a2 ^ a3
            state[column + 1] = a0 ^ d1 ^ d2 ^ a2 ^ a3
            state[column + 2] = a0 ^ a1 ^ d2 ^ d3 ^ a3
            state[column + 3] = d0 ^ a0 ^ a1 ^ a2 ^ d3
        }
    }

    private static func inverseMixColumns(_ state: inout [UInt8]) {
        let m = AESTables.multiply
        for column in stride(from: 0, to: 16, by: 4) {
            let a0 = state[column], a1 = state[column + 1], a2 = state[column + 2], a3 = state[column + 3]
            state[column] = m(a0, 14) ^ m(a1, 11) ^ m(a2, 13) ^ m(a3, 9)
            state[column + 1] = m(a0, 9) ^ m(a1, 14) ^ m(a2, 11) ^ m(a3, 13)
            state[column + 2] = m(a0, 13) ^ m(a1, 9) ^ m(a2, 14) ^ m(a3, 11)
            state[column + 3] = m(a0, 11) ^ m(a1, 13) ^ m(a2, 9) ^ m(a3, 14)
        }
    }
}

/// The S-box and its inverse, computed once from their definition (FIPS-197 §5.1.1: the multiplicative
/// inverse in GF(2^8) followed by the affine map), and GF(2^8) arithmetic modulo x^8+x^4+x^3+x+1.
enum AESTables {
    static let substitution: [UInt8] = {
        var table = [UInt8](repeating: 0x63, count: 256)
        // p walks the multiplicative group by powers of 3, q by powers of 3's inverse: q = p⁻¹.
        var p: UInt8 = 1, q: UInt8 = 1
        repeat {
            p = p ^ double(p)
            q ^= q << 1
            q ^= q << 2
            q ^= q << 4
            if q & 0x80 != 0 { q ^= 0x09 }
            let affine = q ^ rotateLeft(q, 1) ^ rotateLeft(q, 2) ^ rotateLeft(q, 3) ^ rotateLeft(q, 4)
            table[Int(p)] = affine ^ 0x63
        } while p != 1
        return table
    }()

    static let inverseSubstitution: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for (input, output) in substitution.enumerated() { table[Int(output)] = UInt8(input) }
        return table
    }()

    /// Multiplication by x (FIPS-197 §4.2.1, xtime).
    static func double(_ value: UInt8) -> UInt8 {
        (value << 1) ^ (value & 0x80 != 0 ? 0x1B : 0)
    }

    static func multiply(_ value: UInt8, _ factor: UInt8) -> UInt8 {
        var result: UInt8 = 0, power = value, rest = factor
        while rest != 0 {
            if rest & 1 != 0 { result ^= power }
            power = double(power)
            rest >>= 1
        }
        return result
    }

    private static func rotateLeft(_ value: UInt8, _ count: UInt8) -> UInt8 {
        (value << count) | (value >> (8 - count))
    }
}
