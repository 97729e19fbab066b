import ConcentratorCore
import Foundation
import TestSupport
import Testing

/// The `headend` executable as an operator runs it: keys generate, devices add, run against a real
/// mosquitto, ingest the documented interval batch (Docs/mqtt-api.md §10.1), answer with exactly
/// the documented ack (§10.3), export, status. The device side is mosquitto_pub and mosquitto_sub,
/// and the keys are written in the documented file formats (§9), so this checks the page as well.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct HeadEndProcessTests {
    /// The `<!-- vector:NAME -->` blocks of Docs/mqtt-api.md, as lowercase hex.
    static func documentedVectors() throws -> [String: String] {
        let lines = try String(contentsOfFile: BuiltProducts.packageRoot + "/Docs/mqtt-api.md", encoding: .utf8)
            .components(separatedBy: "\n")
        var vectors: [String: String] = [:]
        var i = 0
        while i < lines.count {
            let line = lines[i].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("<!-- vector:"), line.hasSuffix("-->") {
                let name = String(line.dropFirst("<!-- vector:".count).dropLast(3)).trimmingCharacters(in: .whitespaces)
                var hex = ""
                i += 2
                while i < lines.count, !lines[i].hasPrefix("```") {
                    hex += lines[i].trimmingCharacters(in: .whitespaces)
                    i += 1
                }
                vectors[name] = hex
            }
            i += 1
        }
        return vectors
    }

    static func bytes(_ hex: String) -> Data {
        var data = Data()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            data.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return data
    }

    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
    }

    /// Runs a command to completion off the cooperative pool.
    static func command(_ program: String, _ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
        try await runOnDedicatedThread { try runCommand(program, arguments) }
    }

    @Test func keysDevicesRunIngestExportStatus() async throws {
        let dir = TemporaryDirectory("e2e-headend")
        let broker = try await MosquittoBroker()
        let vectors = try Self.documentedVectors()
        let port = "\(broker.port)"
        let headend = BuiltProducts.path("headend")
        let keys = dir.file("keys"), database = dir.file("headend.sqlite")

        // keys generate: five keys, private files 0600, public documents beside them.
        let generated = try await Self.command(headend, ["keys", "generate", "--dir", keys])
        #expect(generated.status == 0, "\(generated.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: keys)
        #expect(files.filter { $0.hasSuffix(".key") }.count == 5 && files.filter { $0.hasSuffix(".pub.json") }.count == 5)
        #expect(Self.mode(keys) == 0o700)
        for file in files where file.hasSuffix(".key") { #expect(Self.mode(keys + "/" + file) == 0o600, "\(file)") }
        let generatedSealing = try #require(files.first { $0.hasPrefix("sealing-") && $0.hasSuffix(".key") })

        // The documented test keys, written in the documented private key format.
        func privateKey(_ name: String, _ algorithm: String, _ vector: String) throws -> String {
            let path = keys + "/" + name
            let secret = Self.bytes(vectors[vector]!).base64EncodedString()
            try #"{"format":"concentrator-private-key/1","algorithm":"\#(algorithm)","secret":"\#(secret)"}"#
                .write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            return path
        }
        let vectorSealing = try privateKey("vector-sealing.key", "x25519", "headend-sealing-private")
        let vectorAck = try privateKey("vector-ack.key", "ed25519", "headend-ack-seed")
        let deviceKey = dir.file("gw-0001.json")
        let devicePublic = Self.bytes(vectors["device-signing-public"]!).base64EncodedString()
        try #"{"format":"concentrator-public-key/1","algorithm":"ed25519","role":"device","device":"gw-0001","publicKey":"\#(devicePublic)"}"#
            .write(toFile: deviceKey, atomically: true, encoding: .utf8)

        // devices add / list.
        let added = try await Self.command(headend, ["devices", "add", "--database", database, "--id", "gw-0001", "--key", deviceKey])
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("0a5b67549542c9a5"))
        let listed = try await Self.command(headend, ["devices", "list", "--database", database])
        #expect(listed.stdout.contains("gw-0001") && listed.stdout.contains("id 0a5b67549542c9a5"))

        // The configuration: the generated sealing key and the documented one (a rotation), the documented ack key.
        let config = dir.file("headend.json")
        try """
            {"broker": {"host": "127.0.0.1", "port": \(port), "clientId": "headend-e2e", "keepaliveSeconds": 10},
             "database": "\(database)",
             "keys": {"sealing": ["\(keys)/\(generatedSealing)", "\(vectorSealing)"], "ack": "\(vectorAck)"}}
            """.write(toFile: config, atomically: true, encoding: .utf8)

        let run = try ChildProcess(headend, ["run", "--config", config, "--log-level", "debug"], name: "headend", directory: dir)
        #expect(try await runOnDedicatedThread { run.waitForOutput("subscribed to", inStderr: true, timeout: .seconds(20)) },
                "\(run.stderr)")

        // The device side: mosquitto_sub on the ack topic (ready once the broker logs its SUBSCRIBE), mosquitto_pub twice.
        let sub = try ChildProcess(try findProgram("mosquitto_sub"),
                                   ["-h", "127.0.0.1", "-p", port, "-V", "mqttv5", "-q", "1", "-i", "e2e-ack-listener",
                                    "-t", "concentrator/v1/gw-0001/ack", "-C", "2", "-F", "%x"], name: "sub", directory: dir)
        #expect(try await runOnDedicatedThread { waitUntil(timeout: .seconds(10)) { broker.log.contains("SUBSCRIBE from e2e-ack-listener") } })
        let message = dir.file("batch.bin")
        try Self.bytes(vectors["interval-message"]!).write(to: URL(fileURLWithPath: message))
        for _ in 0..<2 {
            let published = try await Self.command(try findProgram("mosquitto_pub"),
                                                    ["-h", "127.0.0.1", "-p", port, "-q", "1", "-t", "concentrator/v1/gw-0001/batch", "-f", message])
            #expect(published.status == 0, "\(published.stderr)")
        }
        #expect(try await runOnDedicatedThread { sub.waitForExit(timeout: .seconds(20)) } == 0, "\(sub.stdout)")
        let acks = sub.stdout.split(separator: "\n").map(String.init).filter { $0.count > 100 && $0.allSatisfy(\.isHexDigit) }
        try #require(acks.count == 2, "\(sub.stdout)")
        #expect(acks[0] == vectors["interval-ack"], "the accepted ack is exactly the documented one")
        #expect(acks[1].dropFirst(10).prefix(2) == "01", "the second is a duplicate ack")

        // export CSV and JSON.
        let csv = try await Self.command(headend, ["export", "--config", config, "--device", "gw-0001", "--from", "2026-11-21",
                                                   "--to", "2026-11-22", "--format", "csv"])
        #expect(csv.status == 0, "\(csv.stderr)")
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 13)
        #expect(lines.first == "interval_start,device,meter,quantity,value,unit,quality")
        #expect(lines.contains("2026-11-21T10:00:00Z,gw-0001,m-1,current_l1,5.123,A,ok"))
        #expect(lines.contains("2026-11-21T10:00:00Z,gw-0001,m-1,active_energy_import,12345.67,kWh,ok"))
        #expect(lines.contains("2026-11-21T10:00:00Z,gw-0001,m-2,current_l1,,A,error:258 modbus exception 2 (illegal data address)"))
        #expect(lines.contains("2026-11-21T10:00:00Z,gw-0001,m-2,active_energy_import,802.5,kWh,ok"))
        #expect(lines.filter { $0.contains(",m-3,") && $0.hasSuffix(",error:1 no response") }.count == 4)
        let json = try await Self.command(headend, ["export", "--config", config, "--device", "gw-0001", "--from", "2026-11-21",
                                                    "--to", "2026-11-22", "--format", "json", "--meter", "m-2"])
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(objects.count == 1)
        #expect(objects.first?["meter_time"] as? String == "2026-11-21T10:00:01Z")
        #expect(objects.first?["gateway_time"] as? String == "2026-11-21T10:00:02.640Z")

        // status.
        let status = try await Self.command(headend, ["status", "--config", config, "--json"])
        let report = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["devices"]
            as? [[String: Any]])
        #expect(report.first?["lastSequence"] as? Int == 42)
        #expect(report.first?["batches"] as? Int == 1 && report.first?["values"] as? Int == 12)

        #expect(try await runOnDedicatedThread { run.stop() } == 0, "clean exit on SIGTERM: \(run.stderr.suffix(1500))")
        // No key bytes in the head-end's log (the documented secrets and publics, hex and base64).
        let log = run.stderr
        #expect(log.contains("batch stored"))
        for name in ["headend-sealing-private", "headend-sealing-public", "headend-ack-seed", "headend-ack-public", "device-signing-public"] {
            let hex = vectors[name]!
            for form in [hex, hex.uppercased(), Self.bytes(hex).base64EncodedString()] {
                #expect(!log.contains(form), "\(name) appears in the log")
            }
        }
    }

    @Test func badConfigurationExitsWithTheConfigurationStatus() async throws {
        let dir = TemporaryDirectory("e2e-headend-config")
        try #"{"broker": {"host": "127.0.0.1"}, "database": "relative.sqlite", "keys": {"sealing": []}}"#
            .write(toFile: dir.file("headend.json"), atomically: true, encoding: .utf8)
        let result = try await runOnDedicatedThread {
            try runCommand(BuiltProducts.path("headend"), ["run", "--config", dir.file("headend.json")])
        }
        #expect(result.status == ExitStatus.config)
        for path in ["$.broker.clientId", "$.database", "$.keys.sealing", "$.keys.ack"] {
            #expect(result.stderr.contains(path), "\(result.stderr)")
        }
    }
}
