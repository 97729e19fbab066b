import ArgumentParser
import ConcentratorCore
import Console
import Platform
#if canImport(Glibc)
import Glibc
#endif

/// `concentrator console`: the installer's commissioning tool on the serial console (80×24).
/// Docs/console.md describes the screens; Systemd/ holds the units that run it on the console port.
struct ConsoleCommandLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The installer's console: status, bus setup, scan, meters, CSV import, test read, uplink test, keys, apply.")

    @OptionGroup var options: ConfigOption
    @Option(help: "Control socket path (default: <runtimeDirectory>/control.sock).") var controlSocket: String?
    @Flag(name: .customLong("no-color"), help: "No colours (also off with NO_COLOR or TERM=dumb).") var noColor = false

    func run() throws {
        let environment = ProcessEnvironment.all
        let document: ConfigDocument
        var fileText: String?
        if FileSystem.exists(options.config) {
            do {
                let text = try FileSystem.readText(options.config)
                document = try ConfigDocument(text: text)
                fileText = text
            } catch {
                Output.error("cannot edit \(options.config): \(error)")
                Output.error("fix the file by hand (concentrator config check \(options.config)) or move it away to start afresh")
                throw ExitCode(ExitStatus.config)
            }
        } else {
            document = ConfigDocument.skeleton(deviceID: hostName())
        }
        let terminal = PosixTerminal(environment: environment, colourAllowed: !noColor)
        terminal.start()
        defer { terminal.restore() }
        let services = ConsoleServices(validate: validateConfiguration, directBus: ConsoleDirectBus(), keys: ConsoleKeys(),
                                       broker: ConsoleBrokerProbe(), archive: ConsoleArchiveExport(), system: ConsoleSystemActions())
        let session = ConsoleSession(ui: ConsoleUI(terminal: terminal), services: services, configPath: options.config,
                                     controlSocket: controlSocket, document: document, fileText: fileText)
        if fileText == nil {
            session.ui.warning("\(options.config) does not exist yet: starting from an empty configuration (device \(hostName())).")
        }
        let status = session.run()
        terminal.restore()
        if status != 0 { throw ExitCode(status) }
    }

    /// The gateway's host name: a starting device id for a new configuration.
    private func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "gateway" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return ConfigurationLoader.isIdentifier(name) ? name : "gateway"
    }
}
