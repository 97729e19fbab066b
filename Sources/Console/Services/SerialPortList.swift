#if canImport(Glibc)
import Glibc
#endif
import Platform

/// The serial ports that exist on this gateway, for the bus form's help: stable names first
/// (`/dev/ttyRS485-*` from the board's udev rules, `/dev/serial/by-id/*`), then the kernel's tty
/// devices that have hardware behind them (USB adapters, on-board UARTs). The legacy 8250
/// placeholders (`ttyS4` … `ttyS31` on every PC) are left out.
public enum SerialPortList {
    public static func present(dev: String = "/dev", sys: String = "/sys/class/tty") -> [String] {
        var out: [String] = []
        let stable = ((try? FileSystem.list(dev)) ?? []).filter { $0.hasPrefix("ttyRS485") }.sorted().map { FileSystem.join(dev, $0) }
        for path in stable { out.append(describe(path)) }
        let byID = FileSystem.join(dev, "serial/by-id")
        for name in ((try? FileSystem.list(byID)) ?? []).sorted() { out.append(describe(FileSystem.join(byID, name))) }
        for name in ((try? FileSystem.list(sys)) ?? []).sorted() where isHardwarePort(name, sys: sys) {
            let path = FileSystem.join(dev, name)
            if FileSystem.exists(path) { out.append(path) }
        }
        return out
    }

    /// `path -> target` for a symbolic link, else the path.
    static func describe(_ path: String) -> String {
        guard let target = linkTarget(path) else { return path }
        return "\(path) -> \(target.split(separator: "/").last.map(String.init) ?? target)"
    }

    /// A tty with a device behind it that is not one of serial8250's unused placeholders.
    static func isHardwarePort(_ name: String, sys: String) -> Bool {
        guard name.hasPrefix("tty"), name.count > 3 else { return false }
        guard let device = linkTarget(FileSystem.join(FileSystem.join(sys, name), "device")) else { return false }
        return !device.hasSuffix("serial8250")
    }

    private static func linkTarget(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
