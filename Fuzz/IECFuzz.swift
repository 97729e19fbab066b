// libFuzzer entry for the IEC 62056-21 decoders: the incremental frame assembler (client and device
// roles, every split the input's first byte chooses), the data block and line parser, OBIS codes,
// identification, request and option select messages, command messages, P.01 profiles and the
// clock texts. Built and run by scripts/fuzz.sh iec (swiftc -sanitize=fuzzer,address), compiled
// together with Sources/MeterProtocols (and its IEC62056 folder) against the ConcentratorCore module.
// Besides "never crash", it checks that every accepted block and command encodes back to the same
// bytes and that the assembler never returns more bytes than it was given.
import ConcentratorCore
@testable import MeterProtocols

@_cdecl("LLVMFuzzerTestOneInput")
public func iecFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    guard let control = input.first else { return 0 }
    let bytes = Array(input.dropFirst())

    // Half the inputs get a correct BCC after their last ETX, so the fuzzer reaches the parsers behind it.
    var stream = bytes
    if control & 0x40 != 0, let start = stream.firstIndex(where: { $0 == 0x01 || $0 == 0x02 }),
       let end = stream.lastIndex(of: 0x03), end > start {
        stream = Array(stream[...end]) + [IECBlockCheck.compute(stream[(start + 1)...end])]
    }

    // The assembler, in both roles, split at the point the control byte picks.
    for role in [IECFrameAssembler.Role.client, .device] {
        var assembler = IECFrameAssembler(role: role, blockLimit: 2048)
        assembler.expectsOptionSelect = control & 0x20 != 0
        let cut = stream.isEmpty ? 0 : Int(control) % (stream.count + 1)
        var frames: [IECFrame] = []
        var steps = 0
        for piece in [stream[0..<cut], stream[cut...]] {
            assembler.append(piece)
            while steps <= stream.count + 2 {
                steps += 1
                do {
                    guard let frame = try assembler.next() else { break }
                    frames.append(frame)
                } catch {
                    _ = error.description
                }
            }
        }
        precondition(steps <= stream.count + 2, "the assembler made no progress")
        for frame in frames {
            switch frame {
            case .block(let block):
                precondition(block.encoded.count == block.body.count + 3, "block length")
                if block.header == IECCharacter.soh, let command = try? IECCommandMessage.decode(block) {
                    precondition(command.encoded == block.encoded, "command does not encode back")
                    _ = command.dataSet
                }
                if let data = try? IECDataBlock.parse(body: block.body, readout: block.header == IECCharacter.stx && control & 1 == 1) {
                    for set in data.sets {
                        _ = set.obis
                        for value in set.values { if let n = value.number { precondition(n.isFinite) } }
                    }
                    if let profile = try? IECLoadProfile.decode(data) {
                        precondition(profile.entries.count <= IECLoadProfile.entryLimit)
                        _ = IECValueMapping.samples(profile, spec: IECLoadProfileSpec(channels: [
                            IECProfileChannelSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh", kind: .counter)]), zone: .utc)
                    }
                    _ = IECValueMapping.values(data, registers: [IECRegisterSpec(obis: "1.8.0", quantity: "active_energy_import", unit: "kWh")])
                    _ = IECValueMapping.meterClock(data, clock: IECClockSpec())
                }
            case .line(let line):
                if let ident = try? IECIdentification.decode(line: line) {
                    precondition(ident.encoded.dropLast(2).elementsEqual(line), "identification does not encode back")
                }
                if let request = try? IECRequestMessage.decode(line: line) {
                    precondition(request.encoded.dropLast(2).elementsEqual(line), "request does not encode back")
                }
            case .optionSelect(let bytes):
                if let option = try? IECOptionSelect.decode(bytes) { precondition(option.encoded.prefix(4).elementsEqual(bytes)) }
            case .acknowledge, .repeatRequest:
                break
            }
        }
    }

    // The text parsers on the raw input.
    _ = try? IECDataLine.parse(bytes)
    _ = try? IECDataBlock.parse(body: bytes, readout: control & 2 != 0)
    let text = String(decoding: bytes.prefix(40), as: UTF8.self)
    if let code = try? OBISCode.parse(text) { precondition(code.matches(code), "a code matches itself") }
    _ = IECTimeText.parseStamp(text)
    _ = IECTimeText.parseTime(text, .colons)
    _ = IECTimeText.parseDate(text, .seasonYYMMDD)
    _ = try? SoftwareParity(.even).stripping(bytes)
    return 0
}
