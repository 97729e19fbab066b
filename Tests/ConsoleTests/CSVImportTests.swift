import ConcentratorCore
import Console
import Testing

@Suite struct CSVParserTests {
    @Test func quotedFieldsCommasQuotesAndLineBreaks() throws {
        let text = "id,label\r\nm1,\"cabinet, left\"\r\nm2,\"say \"\"hi\"\"\"\n\n# a comment\nm3,\"two\nlines\"\n"
        let records = try CSVParser.parse(text).get()
        #expect(records.map(\.fields) == [["id", "label"], ["m1", "cabinet, left"], ["m2", "say \"hi\""], ["m3", "two\nlines"]])
        #expect(records.map(\.line) == [1, 2, 3, 6])
    }

    @Test func semicolonsWhenTheHeaderUsesThemAndAByteOrderMark() throws {
        let records = try CSVParser.parse("\u{FEFF}id;address;label\nm1; 7 ;a,b\n").get()
        #expect(records.map(\.fields) == [["id", "address", "label"], ["m1", "7", "a,b"]])
    }

    @Test func anUnclosedQuoteIsAnErrorWithItsLine() {
        guard case .failure(let e) = CSVParser.parse("id\nm1\n\"open\n") else { Issue.record("accepted"); return }
        #expect(e.line == 3)
    }
}

@Suite struct MeterImportTests {
    private let key = KeyTextTests.meterKeyText

    private func run(_ csv: String, into document: ConfigDocument = configWithOneBus()) -> (ImportReport, ConfigDocument)? {
        var doc = document
        guard case .success(let report) = MeterImport.run(csv: csv, into: &doc, validate: { testValidator($0, "import") }) else { return nil }
        return (report, doc)
    }

    @Test func everyRowGetsItsOutcomeAndOnlyGoodRowsAreAdded() throws {
        var start = configWithOneBus()
        start.appendMeter(MeterEntry(id: "old", bus: "bus1", address: .integer(9), profile: "abb-b23").json())
        let csv = """
        id,bus,address,profile,pod,serialNumber,label,key
        m1,bus1,1,eastron-sdm630,IT001E01,SN1,cabinet A,\(key)
        m2,bus1,300,eastron-sdm630,,,,
        m3,bus1,3,no-such-meter,,,,
        m4,bus1,4,abb-b23,,,,\(key.dropLast())0
        m1,bus1,5,abb-b23,,,,
        m6,bus1,9,abb-b23,,,,
        m7,bus2,7,abb-b23,,,,
        m8,bus1,abc,abb-b23,,,,
        bad id,bus1,10,abb-b23,,,,
        m11,bus1,11,abb-b23,,,
        m12,bus1,12,finder-7m,,,"label, with comma",
        """
        let (report, doc) = try #require(run(csv, into: start))
        #expect(report.rows.map(\.outcome) == [.added, .badAddress, .unknownProfile, .badKey, .duplicate, .duplicate, .unknownBus,
                                              .badAddress, .invalid, .invalid, .added])
        #expect(report.rows.map(\.line) == Array(2...12))
        #expect(report.added.map(\.id) == ["m1", "m12"])
        #expect(report.rows[0].key == Array(0..<16))
        #expect(doc.meterIDs == ["old", "m1", "m12"])
        #expect(doc.meter(id: "m12")?["label"]?.stringValue == "label, with comma")
        #expect(doc.meter(id: "m1")?["pod"]?.stringValue == "IT001E01")
        #expect(testValidator(doc.text, "after import") == nil, "what the import adds, the agent accepts")
        #expect(report.summary == "11 rows: 2 added, 2 duplicate, 2 bad address, 1 unknown bus, 1 unknown profile, 1 bad key, 2 invalid")
        #expect(report.rows[5].detail.contains("address already used"), "\(report.rows[5].detail)")
        #expect(report.rows[9].detail.contains("7 fields; the header has 8"))
        let lines = report.render()
        #expect(lines.count >= 12)
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines.filter { $0.count > 80 })")
        #expect(!lines.joined().contains("0102030405"), "keys never appear in the report")
    }

    @Test func theSixtyFifthMeterOfABusIsRefusedAsBusFull() throws {
        var csv = "id,bus,address,profile\n"
        for a in 1...66 { csv += "m\(a),bus1,\(a),eastron-sdm120\n" }
        let (report, doc) = try #require(run(csv))
        #expect(report.added.count == 64)
        #expect(report.rows[64].outcome == .busFull && report.rows[65].outcome == .busFull)
        #expect(doc.meters.count == 64)
    }

    @Test func fileProblemsRefuseTheWholeImport() {
        var doc = configWithOneBus()
        for (csv, fragment) in [("", "empty"), ("id,bus,address\n", "missing column(s) profile"),
                                ("id,bus,address,profile,colour\n", "unknown column \"colour\""),
                                ("id,id,bus,address,profile\n", "twice")] {
            guard case .failure(let problem) = MeterImport.run(csv: csv, into: &doc, validate: { testValidator($0, "import") }) else {
                Issue.record("accepted: \(csv)")
                continue
            }
            #expect(problem.description.contains(fragment), "\(problem)")
        }
        #expect(doc == configWithOneBus())
    }
}
