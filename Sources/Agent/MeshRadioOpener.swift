import Bus
import ConcentratorCore
import Mesh
import Platform

/// Opens a configured LoRa modem: the port through the bus layer's `SerialPort` (lock, 57600 8N1,
/// raw), handed to a `SerialRadioLink` that owns it from then on (Docs/mesh.md, "Links").
enum MeshRadioOpener {
    static func open(_ r: MeshSettings.RadioLink, clock: any WallClock) throws(MeshServiceError) -> any MeshLink {
        let port: SerialPort
        do { port = try SerialPort(path: r.port, line: LineSettings(baud: 57_600)) } catch {
            throw .setup("mesh radio \(r.name): \(error)")
        }
        var s = SerialRadioLink.Settings()
        s.name = r.name
        s.frequencyHz = r.frequencyHz
        s.modulation = LoRaModulation(spreadingFactor: r.spreadingFactor, bandwidthHz: r.bandwidthKHz * 1000, codingRate: r.codingRate)
        s.powerDbm = r.powerDbm
        s.dutyCycle = r.dutyCyclePercent.map { $0 / 100 }
        do {
            return MeshRadioLink(port: port, link: try SerialRadioLink(fileDescriptor: port.fd, ownsDescriptor: false, settings: s, clock: clock))
        } catch {
            port.close()
            throw .link(error)
        }
    }
}

/// A serial radio link together with the port it runs on: the port (and its lock) lives as long as
/// the link and closes when the link stops.
final class MeshRadioLink: MeshLink, @unchecked Sendable {
    private let port: SerialPort
    let link: SerialRadioLink

    init(port: SerialPort, link: SerialRadioLink) {
        self.port = port
        self.link = link
    }

    var properties: MeshLinkProperties { link.properties }
    var statistics: MeshLinkStatistics { link.statistics }
    func start(receive: @escaping @Sendable (MeshLinkDatagram) -> Void) throws(MeshLinkError) { try link.start(receive: receive) }
    func send(_ bytes: [UInt8], to destination: MeshLinkDestination, priority: MeshPriority) throws(MeshLinkError) {
        try link.send(bytes, to: destination, priority: priority)
    }
    func stop() {
        link.stop()
        port.close()
    }
}
