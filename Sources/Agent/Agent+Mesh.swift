import ConcentratorCore
import Logging
import Mesh
import Platform
import Uplink

extension Agent {
    /// Starts the mesh when the configuration has an enabled `mesh` section, and makes it the drain's
    /// route while the broker is unreachable. A mesh that cannot start (no key yet, a port in use) is
    /// logged and reported as an event; the agent keeps archiving and queueing.
    func startMesh(_ setup: AgentSetup) {
        guard let settings = setup.config.mesh, settings.enabled else { return }
        let service = MeshService(
            settings: settings, deviceID: setup.config.device.id, stateDirectory: setup.config.device.stateDirectory,
            uplink: setup.config.uplink, clock: options.clock, logger: logger,
            ownUplinkConnected: { [weak self] in self?.uplink?.isConnected ?? false },
            onAck: { [weak self] bytes in
                guard let uplink = self?.uplink else { return }
                Task { await uplink.acknowledgementArrived(bytes) }
            },
            onCommand: { [weak self] bytes in self?.commands?.submit(bytes) })
        do {
            try service.start()
        } catch {
            logger.critical("mesh not started: \(error); this device's batches wait for its own uplink")
            events?.record(GatewayEvent(time: options.clock.now(), kind: .configApplied, severity: .error, message: "mesh not started: \(error)"))
            return
        }
        mesh = service
        uplink?.useAlternateRoute(service)
        uplink?.decorateStatus { $0.mesh = service.state }
        progress.register(name: "mesh") { service.lastProgress }
    }
}
