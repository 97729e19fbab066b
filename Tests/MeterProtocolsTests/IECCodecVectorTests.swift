import Testing
import ConcentratorCore
@testable import MeterProtocols

/// Byte vectors for the IEC 62056-21 messages. Sources, each cited at its test:
/// - [LEM] LEM EM4TII+ Manual, 05 November 2020 / V1.0, §4.2.9 "Examples of read-outs" (EMH
///   protocol stack): every BCC there was checked by hand and holds.
/// - [ME162] a captured session with an Iskraemeco ME162, github.com/wdoekes/pe32me162ir_pub,
///   example.log: readout BCC 'L', R1 reads answered after a NAK.
/// - [pwitab] pwitab/iec62056-21 (Python client), tests/test_bcc.py and tests/test_data.py.
/// - [iisys] iisys-hof/libIEC62056, IEC62056ParserTest.java (identification examples).
enum IECVectors {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
    static let stx = "\u{02}", etx = "\u{03}", soh = "\u{01}", ack = "\u{06}", nak = "\u{15}"

    /// [ME162] the readout data message at 20:42:05.102.
    static let me162Readout = bytes(stx + "C.1.0(28342193)\r\n0.0.0(28342193)\r\n1.8.0(0032907.841*kWh)\r\n1.8.1(0000000.000*kWh)\r\n"
        + "1.8.2(0032907.841*kWh)\r\n2.8.0(0000000.001*kWh)\r\n2.8.1(0000000.000*kWh)\r\n2.8.2(0000000.001*kWh)\r\nF.F(0000000)\r\n!\r\n" + etx + "L")
    static let me162Identification = bytes("/ISK5ME162-0033\r\n")

    /// [LEM] example 1, read-out from read-out table 1.
    static let lemReadout = bytes(stx + "1-0:1.8.0*255(000000000.0*kWh)\r\n1-0:2.8.0*255(000000000.0*kWh)\r\n"
        + "1-0:3.8.0*255(000000000.0*kvarh)\r\n1-0:4.8.0*255(000000000.0*kvarh)\r\n0-0:F.F.0*255(00000000)\r\n1-0:0.0.1*255()\r\n"
        + "1-0:0.2.0*255(10600000)\r\n1-0:0.9.1*255(140253)\r\n1-0:0.9.2*255(121221)\r\n0-0:C.1.0*255(03878504)\r\n0-0:C.72.1*255()\r\n"
        + "0-0:C.72.2*255()\r\n1-0:0.8.4*255(5*min)\r\n1-0:0.3.0*255(6.00*Imp/kWh)\r\n1-0:0.2.1*1(121120??)\r\n1-0:0.2.1*50(121120??)\r\n"
        + "0-0:C.90.2*255(9F139CC2)\r\n1-0:C.1.9*255(Point-ID)\r\n!\r\n" + etx + "+")
    static let lemIdentification = bytes("/EMH5\\@D4EM4TIIW001--\r\n")

    /// [LEM] examples 2 and 3, every programming-mode message with its BCC.
    static let lemMessages: [(String, [UInt8])] = [
        ("P0 operand", bytes(soh + "P0" + stx + "()" + etx + "`")),
        ("P1 password", bytes(soh + "P1" + stx + "(00000000)" + etx + "a")),
        ("R5 date", bytes(soh + "R5" + stx + "0.9.2()" + etx + "\\")),
        ("date answer", bytes(stx + "0.9.2(130103)" + etx + "9")),
        ("R5 time", bytes(soh + "R5" + stx + "0.9.1()" + etx + "_")),
        ("time answer", bytes(stx + "0.9.1(101415)" + etx + ":")),
        ("W5 date and time", bytes(soh + "W5" + stx + "1-0:0.9.129*255(1301031605000002)(00000000)" + etx + "^")),
        ("B0 break", bytes(soh + "B0" + etx + "q")),
    ]

    /// [ME162] programming-mode reads and answers.
    static let me162Messages: [(String, [UInt8])] = [
        ("R1 1.8.0", bytes(soh + "R1" + stx + "1.8.0()" + etx + "Z")),
        ("R1 answer 1.8.0", bytes(stx + "(0032907.842*kWh)" + etx + "S")),
        ("R1 2.8.0", bytes(soh + "R1" + stx + "2.8.0()" + etx + "Y")),
        ("R1 answer 2.8.0", bytes(stx + "(0000000.001*kWh)" + etx + "S")),
        ("R1 answer later", bytes(stx + "(0032907.852*kWh)" + etx + "R")),
    ]

    /// [pwitab] test_bcc.py and test_data.py.
    static let pwitabMessages: [(String, [UInt8])] = [
        ("W2 C003", Hex.decode("01573202433030332839313033323430393232333929031b")!),
        ("P0 with operand", bytes(soh + "P0" + stx + "(1234567)" + etx + "P")),
        ("R1 with value", bytes(soh + "R1" + stx + "1.8.0(1)" + etx + "k")),
        ("answer 3:171.0", bytes(stx + "3:171.0(0)" + etx + "\u{12}")),
        ("readout 3:14", bytes(stx + "3:14(314*kWh)4:15(415*kWh)\r\n!\r\n" + etx + "\"")),
        ("answer without !", bytes(stx + "3:14(314*kWh)4:15(415*kWh)\r\n" + etx + "\u{04}")),
    ]
}

@Suite struct IECCodecVectorTests {
    @Test func blockCheckCharactersMatchTheDocumentedMessages() {
        for (name, message) in IECVectors.lemMessages + IECVectors.me162Messages + IECVectors.pwitabMessages
            + [("ME162 readout", IECVectors.me162Readout), ("LEM readout", IECVectors.lemReadout)] {
            let body = message.dropFirst().dropLast()
            #expect(IECBlockCheck.compute(body) == message.last, "\(name)")
        }
        // One flipped bit anywhere changes the check.
        var damaged = IECVectors.me162Readout
        damaged[20] ^= 0x04
        #expect(IECBlockCheck.compute(damaged.dropFirst().dropLast()) != damaged.last)
    }

    @Test func requestMessages() throws {
        // [pwitab] "/?45678903!\r\n" and "/?!\r\n".
        #expect(try IECRequestMessage(deviceAddress: "45678903").encoded == IECVectors.bytes("/?45678903!\r\n"))
        #expect(try IECRequestMessage().encoded == IECVectors.bytes("/?!\r\n"))
        #expect(try IECRequestMessage.decode(line: IECVectors.bytes("/?45678903!")).deviceAddress == "45678903")
        #expect(try IECRequestMessage(deviceAddress: String(repeating: "9", count: 32)).encoded.count == 37)
        #expect(throws: ByteFormatError.self) { try IECRequestMessage(deviceAddress: String(repeating: "9", count: 33)) }
        #expect(throws: ByteFormatError.self) { try IECRequestMessage(deviceAddress: "12!4") }
        #expect(throws: ByteFormatError.self) { try IECRequestMessage.decode(line: IECVectors.bytes("/?1234")) }
        #expect(throws: ByteFormatError.self) { try IECRequestMessage.decode(line: IECVectors.bytes("/ISK5X")) }
    }

    @Test func identificationMessages() throws {
        func ident(_ s: String) throws -> IECIdentification { try IECIdentification.decode(line: Array(s.utf8)) }
        // [ME162] mode C, 9600 baud, upper-case third letter: 200 ms.
        let isk = try ident("/ISK5ME162-0033")
        #expect(isk.manufacturer == "ISK" && isk.ident == "ME162-0033" && isk.mode == .c && isk.proposedBaud == 9600)
        #expect(isk.minimumReaction == .milliseconds(200))
        #expect(isk.encoded == IECVectors.me162Identification)
        // [LEM] the enhanced identification \@.
        let emh = try ident("/EMH5\\@D4EM4TIIW001--")
        #expect(emh.enhancedCharacters == [UInt8(ascii: "@")] && emh.ident == "D4EM4TIIW001--" && emh.proposedBaud == 9600)
        #expect(emh.encoded == IECVectors.lemIdentification)
        // Landis+Gyr ZMD as reported by users: \2 (mode E capable), mode C 4800.
        let lgz = try ident("/LGZ4\\2ZMD3102400.B31")
        #expect(lgz.enhancedCharacters == [UInt8(ascii: "2")] && lgz.proposedBaud == 4800 && lgz.ident == "ZMD3102400.B31")
        // [iisys] mode C 4800; mode A ('X'); mode B 1200 with \2 and a short reaction time; mode B 4800 with \@.
        let abc = try ident("/ABC4IDENTIFICATION")
        #expect(abc.mode == .c && abc.proposedBaud == 4800 && abc.minimumReaction == .milliseconds(200))
        let xyz = try ident("/XYZXIDENT")
        #expect(xyz.mode == .a && xyz.proposedBaud == nil && xyz.ident == "IDENT")
        let def = try ident("/DEfB\\2TEST")
        #expect(def.mode == .b && def.proposedBaud == 1200 && def.minimumReaction == .milliseconds(20) && def.ident == "TEST")
        let jkl = try ident("/JKlD\\@TESTER")
        #expect(jkl.mode == .b && jkl.proposedBaud == 4800 && jkl.enhancedCharacters == [UInt8(ascii: "@")])
        // [pwitab] "/Els6\\2EK280": 19200 baud.
        #expect(try ident("/Els6\\2EK280").proposedBaud == 19_200)
        // A reserved mode C character has no rate; broken lines are errors.
        #expect(try ident("/ABC7X").proposedBaud == nil)
        #expect(throws: ByteFormatError.self) { try ident("/AB") }
        #expect(throws: ByteFormatError.self) { try ident("ISK5ME162") }
        #expect(throws: ByteFormatError.self) { try ident("/ISK5ME!62") }
        #expect(throws: ByteFormatError.self) { try ident("/ISK5" + String(repeating: "X", count: 33)) }
    }

    @Test func optionSelectMessages() throws {
        // [pwitab] "\x06051\r\n": programming mode at 9600; [iisys] "\x06060\r\n": readout at 19200; [ME162] "\x06050\r\n".
        #expect(IECOptionSelect(baudCharacter: UInt8(ascii: "5"), modeControl: IECOptionSelect.programming).encoded == IECVectors.bytes("\u{06}051\r\n"))
        #expect(IECOptionSelect(baudCharacter: UInt8(ascii: "5"), modeControl: IECOptionSelect.readout).encoded == IECVectors.bytes("\u{06}050\r\n"))
        let o = try IECOptionSelect.decode(IECVectors.bytes("\u{06}060"))
        #expect(IECBaudCharacter.baud(of: o.baudCharacter) == 19_200 && o.modeControl == IECOptionSelect.readout)
        #expect(throws: ByteFormatError.self) { try IECOptionSelect.decode(IECVectors.bytes("\u{06}0A0")) }
        #expect(throws: ByteFormatError.self) { try IECOptionSelect.decode(IECVectors.bytes("\u{06}05")) }
    }

    @Test func baudCharacters() {
        #expect((0...6).map { IECBaudCharacter.baud(of: UInt8(ascii: "0") + UInt8($0)) } == [300, 600, 1200, 2400, 4800, 9600, 19_200])
        #expect(["A", "B", "C", "D", "E", "F"].map { IECBaudCharacter.baud(of: UInt8(ascii: Unicode.Scalar($0)!)) } == [600, 1200, 2400, 4800, 9600, 19_200])
        #expect(IECBaudCharacter.mode(of: UInt8(ascii: "I")) == .b && IECBaudCharacter.mode(of: UInt8(ascii: "J")) == .a)
        #expect(IECBaudCharacter.modeCCharacter(for: 9600) == UInt8(ascii: "5") && IECBaudCharacter.modeCCharacter(for: 7) == nil)
        #expect(IECBaudCharacter.modeCRate(atMost: 9000) == 4800 && IECBaudCharacter.modeCRate(atMost: 100) == 300)
    }

    @Test func commandMessagesEncodeAsDocumented() throws {
        // [LEM] P1 with 00000000, R5 0.9.2(), B0; [ME162] R1 1.8.0(); [pwitab] R1 1.8.0(1).
        #expect(IECCommandMessage.password(Array("00000000".utf8)).encoded == IECVectors.lemMessages[1].1)
        #expect(IECCommandMessage(.r5, data: "0.9.2()").encoded == IECVectors.lemMessages[2].1)
        #expect(IECCommandMessage.exit.encoded == IECVectors.lemMessages[7].1)
        #expect(IECCommandMessage(.r1, data: "1.8.0()").encoded == IECVectors.me162Messages[0].1)
        #expect(IECCommandMessage(.read, type: UInt8(ascii: "1"), data: Array("1.8.0(1)".utf8)).encoded == IECVectors.pwitabMessages[2].1)
        // The password never shows in a description.
        #expect(!IECCommandMessage.password(Array("secret99".utf8)).description.contains("secret99"))
        #expect(IECCommandMessage(.r5, data: "P.01(;)").description == "R5 P.01(;)")
    }

    @Test func commandMessagesDecode() throws {
        var assembler = IECFrameAssembler(role: .device)
        for (name, bytes) in IECVectors.lemMessages where bytes.first == 0x01 {
            assembler.append(bytes)
            guard case .block(let block)? = try assembler.next() else { Issue.record("\(name): no block"); continue }
            let command = try IECCommandMessage.decode(block)
            #expect(command.encoded == bytes, "\(name) encodes back")
        }
        let w5 = try IECCommandMessage.decode(IECBlock(header: 0x01, body: Array("W5\u{02}1-0:0.9.129*255(1301031605000002)(00000000)".utf8)))
        #expect(w5.command == .write && w5.type == UInt8(ascii: "5"))
        #expect(w5.dataSet?.address == "1-0:0.9.129*255" && w5.dataSet?.values.map(\.text) == ["1301031605000002", "00000000"])
        let p0 = try IECCommandMessage.decode(IECBlock(header: 0x01, body: Array("P0\u{02}(1234567)".utf8)))
        #expect(p0.command == .password && p0.dataSet?.values.first?.text == "1234567" && p0.dataSet?.address == nil)
        #expect(throws: ByteFormatError.self) { try IECCommandMessage.decode(IECBlock(header: 0x01, body: Array("X1".utf8))) }
        #expect(throws: ByteFormatError.self) { try IECCommandMessage.decode(IECBlock(header: 0x01, body: Array("RX".utf8))) }
        #expect(throws: ByteFormatError.self) { try IECCommandMessage.decode(IECBlock(header: 0x01, body: Array("R1x".utf8))) }
        #expect(throws: ByteFormatError.self) { try IECCommandMessage.decode(IECBlock(header: 0x02, body: Array("R1".utf8))) }
    }

    @Test func obisCodesInTheFormsMetersPrint() throws {
        func code(_ s: String) throws -> OBISCode { try OBISCode.parse(s) }
        #expect(try code("1.8.0") == OBISCode(c: 1, d: 8, e: 0))
        #expect(try code("1-0:1.8.0*255") == OBISCode(a: 1, b: 0, c: 1, d: 8, e: 0, f: 255))
        #expect(try code("1.8.0*1") == OBISCode(c: 1, d: 8, e: 0, f: 1))
        #expect(try code("F.F") == OBISCode(c: 97, d: 97))
        #expect(try code("0-0:F.F.0*255") == OBISCode(a: 0, b: 0, c: 97, d: 97, e: 0, f: 255))
        #expect(try code("C.1.0") == OBISCode(c: 96, d: 1, e: 0))
        #expect(try code("0-0:C.90.2*255") == OBISCode(a: 0, b: 0, c: 96, d: 90, e: 2, f: 255))
        #expect(try code("P.01") == OBISCode(c: 99, d: 1))
        #expect(try code("1-1:1.29") == OBISCode(a: 1, b: 1, c: 1, d: 29))
        #expect(try code("0:1.8.0") == OBISCode(b: 0, c: 1, d: 8, e: 0))
        for bad in ["", "1", "1.", "1.8.", "256.8.0", "1.8.0*", "1-0:", "X.1.0", "1.8.0.0", "1.8.0x", "1234.8.0"] {
            #expect(throws: ByteFormatError.self, "\(bad)") { try code(bad) }
        }
        // Matching: absent E is 0, absent F (or 255) the current value, absent A/B any.
        #expect(try code("1.8.0").matches(code("1-0:1.8.0*255")))
        #expect(try code("F.F").matches(code("0-0:F.F.0*255")))
        #expect(try !code("1.8.0").matches(code("1.8.0*1")))
        #expect(try !code("1.8.0").matches(code("1.8.1")))
        #expect(try !code("1-0:1.8.0").matches(code("1-1:1.8.0")))
        #expect(try code("C.1.0").matches(code("96.1.0")))
        #expect(try code("0-0:C.90.2*255").description == "0-0:C.90.2*255")
    }

    @Test func dataLinesWithOneAndSeveralValues() throws {
        func line(_ s: String) throws -> IECDataLine { try IECDataLine.parse(Array(s.utf8)) }
        // [pwitab] three sets on one line; with and without unit.
        let three = try line("12(12*kWh)13(13*kWh)14(14*kwh)")
        #expect(three.sets.count == 3 && three.sets[0].address == "12" && three.sets[0].values == [IECValue("12", unit: "kWh")])
        #expect(try line("3.1.0(100*kWh)").sets == [IECDataSet(address: "3.1.0", values: [IECValue("100", unit: "kWh")])])
        #expect(try line("3.1.0(100)").sets[0].values[0].unit == nil)
        #expect(throws: ByteFormatError.self) { try line("\"Tralalalala") }
        // Several values for one address (a maximum and its time stamp), and a P.01 value line.
        let demand = try line("1-1:9.6.0(00.440*MVA)(13-07-19 08:30)")
        #expect(demand.sets.count == 1 && demand.sets[0].values.map(\.text) == ["00.440", "13-07-19 08:30"])
        let values = try line("(0.014)(0.000)(0.013)")
        #expect(values.sets.count == 1 && values.sets[0].address == nil && values.sets[0].values.map(\.number) == [0.014, 0, 0.013])
        // [LEM] units with a slash, empty values, question marks.
        #expect(try line("1-0:0.3.0*255(6.00*Imp/kWh)").sets[0].values[0].unit == "Imp/kWh")
        #expect(try line("1-0:0.0.1*255()").sets[0].values == [IECValue("")])
        #expect(try line("1-0:0.2.1*1(121120??)").sets[0].values[0].text == "121120??")
        for bad in ["1.8.0(12", "1.8.0", "1.8.0(1*kWh*x)", "1.8)0(1)", "1.8.0(1(2)", "1.8.0(\u{01})"] {
            #expect(throws: ByteFormatError.self, "\(bad)") { try line(bad) }
        }
        #expect(try line("1.8.0(0032907.841*kWh)").encoded == "1.8.0(0032907.841*kWh)")
    }

    @Test func valuesAsNumbers() {
        #expect(IECValue("0032907.841").number == 32907.841)
        #expect(IECValue("-12.5").number == -12.5 && IECValue("+3").number == 3 && IECValue("1,5").number == 1.5)
        for text in ["", "---.-", "1.2.3", "nan", "inf", "1e5", "0x10", "12:00", "ERROR", "-", "."] {
            #expect(IECValue(text).number == nil, "\(text)")
        }
        #expect(IECNumberText.format(32907.841, decimals: 3, width: 11) == "0032907.841")
        #expect(IECNumberText.format(0.001, decimals: 3, width: 11) == "0000000.001")
        #expect(IECNumberText.format(-5.25, decimals: 1, width: 0) == "-5.3" || IECNumberText.format(-5.25, decimals: 1) == "-5.2")
        #expect(IECNumberText.format(229.96, decimals: 1, width: 5) == "230.0")
        #expect(IECNumberText.format(7, decimals: 0) == "7")
    }

    @Test func readoutDataBlocks() throws {
        // [pwitab] readout with "!"; a programming answer without.
        let readout = try IECDataBlock.parse(body: Array("3:14(314*kWh)4:15(415*kWh)\r\n!\r\n".utf8), readout: true)
        #expect(readout.lines.count == 1 && readout.sets.count == 2)
        let answer = try IECDataBlock.parse(body: Array("3:171.0(0)".utf8), readout: false)
        #expect(answer.sets == [IECDataSet(address: "3:171.0", values: [IECValue("0")])])
        #expect(throws: ByteFormatError.self) { try IECDataBlock.parse(body: Array("1.8.0(1)\r\n".utf8), readout: true) }
        #expect(throws: ByteFormatError.self) { try IECDataBlock.parse(body: Array("1.8.0(1)\r\n!\r\nX".utf8), readout: true) }
        #expect(throws: ByteFormatError.self) { try IECDataBlock.parse(body: Array("1.8.0(1)\n!\r\n".utf8), readout: true) }
        // [ME162]: the offset of a bad line points into the body.
        do {
            _ = try IECDataBlock.parse(body: Array("1.8.0(1)\r\n2.8.0(2\r\n!\r\n".utf8), readout: true)
            Issue.record("accepted an unclosed value")
        } catch {
            #expect(error.offset >= 10)
        }
    }
}
