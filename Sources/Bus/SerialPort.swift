#if canImport(Glibc)
import Glibc
#endif
import CPlatform
import CSerialPort
import ConcentratorCore
import MeterProtocols
import Platform

/// Why a serial port could not be opened or configured. Carries the path, what failed and what an
/// installer should check; never stops other buses.
public struct SerialPortError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        case missing, permissionDenied, busy, lockedByAnotherMaster, configuration, io
    }

    public let kind: Kind
    public let path: String
    public let detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    static func fromErrno(_ code: Int32, path: String, operation: String) -> SerialPortError {
        let reason = String(cString: strerror(code))
        switch code {
        case ENOENT, ENODEV, ENXIO:
            return SerialPortError(kind: .missing, path: path, detail: "\(operation): \(reason)")
        case EACCES, EPERM:
            return SerialPortError(kind: .permissionDenied, path: path, detail: "\(operation): \(reason)")
        case EBUSY:
            return SerialPortError(kind: .busy, path: path, detail: "\(operation): \(reason)")
        default:
            return SerialPortError(kind: .io, path: path, detail: "\(operation): \(reason)")
        }
    }

    /// What to check, for the log line and the console.
    public var hint: String {
        switch kind {
        case .missing: return "check the adapter is plugged in and the device path in the config (ls -l /dev/serial/by-id)"
        case .permissionDenied: return "the agent's user must be in the dialout group (or fix the udev rule's MODE)"
        case .busy: return "another program holds the port (find it with: fuser \(path))"
        case .lockedByAnotherMaster: return "another master holds this bus; only one may poll it (is the agent running? use it instead)"
        case .configuration: return "the port refused the line settings; check baud, parity and stop bits"
        case .io: return "check the cable and the adapter"
        }
    }

    public var description: String { "serial port \(path): \(detail); \(hint)" }
}

/// An open serial port: a real UART through libserialport, or, when libserialport rejects the device
/// (pseudo-terminals, see sigrokproject/libserialport PR #4), a plain POSIX tty. Either way the port
/// ends up as one file descriptor, locked with flock so that no second master can open it.
/// Owned by exactly one bus thread; not thread-safe.
public final class SerialPort {
    public let path: String
    public private(set) var fd: Int32 = -1
    public private(set) var line: LineSettings
    /// Whether the port went through libserialport (false: POSIX fallback for PTYs).
    public let viaLibserialport: Bool
    /// Set while the port runs 8N1 for a 7-bit line with parity that it refused (Linux PTYs answer
    /// EINVAL to 7E1): the parity bit is then computed in software (`wireBytes`, `characters`).
    public private(set) var softwareParity: SoftwareParity?
    private var spPort: OpaquePointer?

    /// Opens `path` with `line` settings and takes the bus lock.
    public init(path: String, line: LineSettings) throws(SerialPortError) {
        self.path = path
        self.line = line
        var port: OpaquePointer?
        if sp_get_port_by_name(path, &port) == SP_OK, let port {
            guard sp_open(port, SP_MODE_READ_WRITE) == SP_OK else {
                let code = sp_last_error_code()
                sp_free_port(port)
                throw .fromErrno(code, path: path, operation: "open")
            }
            var handle: Int32 = -1
            withUnsafeMutablePointer(to: &handle) { _ = sp_get_port_handle(port, $0) }
            spPort = port
            fd = handle
            viaLibserialport = true
        } else {
            if let port { sp_free_port(port) }
            let handle = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
            guard handle >= 0 else { throw .fromErrno(errno, path: path, operation: "open") }
            fd = handle
            viaLibserialport = false
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close()
            if code == EWOULDBLOCK {
                throw SerialPortError(kind: .lockedByAnotherMaster, path: path, detail: "the port is locked by another process")
            }
            throw .fromErrno(code, path: path, operation: "lock")
        }
        try apply(line)
    }

    deinit { close() }

    /// Switches the line settings (mixed-protocol buses change them between transactions).
    ///
    /// A 7-bit framing with parity (7E1, 7O1) that the port refuses (EINVAL, as Linux PTYs answer,
    /// or kept as 8 bits without parity by an older kernel) runs as 8N1 with software parity: the
    /// frame on the wire is the same 10 bits. `line` still reports 7E1 and `softwareParity` is set;
    /// writes and reads then go through `wireBytes(for:)` and `characters(fromWire:)`.
    public func apply(_ settings: LineSettings) throws(SerialPortError) {
        let emulable = settings.dataBits == 7 && settings.parity != .none && settings.stopBits == 1
        let refusal = applyFraming(settings)
        if refusal == nil, !emulable || framingHolds(settings) {
            softwareParity = nil
            line = settings
            return
        }
        if let refusal, refusal.code == EINVAL, settings.dataBits == 8, settings.parity != .none, isPseudoTerminal {
            // A pseudo-terminal (a simulator's line) has no wire and refuses parity: 8E1 (M-Bus)
            // then runs as 8N1, the same bytes; on a real UART the parity is the hardware's.
            var plain = settings
            plain.parity = .none
            if applyFraming(plain) == nil {
                softwareParity = nil
                line = settings
                return
            }
        }
        if let refusal, !emulable || refusal.code != EINVAL {
            throw SerialPortError(kind: .configuration, path: path, detail: "cannot set \(settings.summary): \(refusal.reason)")
        }
        var eightBits = settings
        eightBits.dataBits = 8
        eightBits.parity = .none
        if let failure = applyFraming(eightBits) {
            throw SerialPortError(kind: .configuration, path: path,
                                  detail: "cannot set \(settings.summary), nor \(eightBits.summary) for software parity: \(failure.reason)")
        }
        softwareParity = SoftwareParity(settings.parity)
        line = settings
    }

    /// Whether the port is the slave side of a pseudo-terminal (`/dev/pts/N`, also behind a link).
    private var isPseudoTerminal: Bool {
        guard let resolved = realpath(path, nil) else { return false }
        defer { free(resolved) }
        return String(cString: resolved).hasPrefix("/dev/pts/")
    }

    /// Whether the terminal settings really hold 7 data bits with the asked parity.
    private func framingHolds(_ settings: LineSettings) -> Bool {
        TerminalFraming.holdsSevenBitsWithParity(fd, odd: settings.parity == .odd)
    }

    /// The bytes to write for 7-bit `characters`: as they are, or each with its parity bit when the
    /// port runs software parity.
    public func wireBytes(for characters: [UInt8]) -> [UInt8] {
        softwareParity.map { $0.adding(to: characters) } ?? characters
    }

    /// The characters in bytes read from the port: as they are, or parity-checked and stripped when
    /// the port runs software parity (a wrong parity bit throws, with its offset).
    public func characters(fromWire bytes: [UInt8]) throws(SoftwareParityError) -> [UInt8] {
        guard let softwareParity else { return bytes }
        return try softwareParity.stripping(bytes)
    }

    /// Sets the framing and speed; nil on success, else the errno and what it means.
    private func applyFraming(_ settings: LineSettings) -> (code: Int32, reason: String)? {
        if viaLibserialport, let spPort {
            let parity: sp_parity = switch settings.parity {
            case .none: SP_PARITY_NONE
            case .even: SP_PARITY_EVEN
            case .odd: SP_PARITY_ODD
            }
            guard sp_set_baudrate(spPort, Int32(settings.baud)) == SP_OK,
                  sp_set_bits(spPort, Int32(settings.dataBits)) == SP_OK,
                  sp_set_parity(spPort, parity) == SP_OK,
                  sp_set_stopbits(spPort, Int32(settings.stopBits)) == SP_OK,
                  sp_set_flowcontrol(spPort, SP_FLOWCONTROL_NONE) == SP_OK
            else {
                return (sp_last_error_code(), String(cString: sp_last_error_message()))
            }
            return nil
        }
        var tio = termios()
        guard tcgetattr(fd, &tio) == 0 else { return (errno, "read line settings: " + String(cString: strerror(errno))) }
        cfmakeraw(&tio)
        tio.c_cflag |= tcflag_t(CLOCAL | CREAD)
        tio.c_cflag &= ~(tcflag_t(CSIZE) | tcflag_t(PARENB) | tcflag_t(PARODD) | tcflag_t(CSTOPB) | tcflag_t(CRTSCTS))
        tio.c_cflag |= tcflag_t(settings.dataBits == 7 ? CS7 : CS8)
        if settings.parity != .none { tio.c_cflag |= tcflag_t(PARENB) }
        if settings.parity == .odd { tio.c_cflag |= tcflag_t(PARODD) }
        if settings.stopBits == 2 { tio.c_cflag |= tcflag_t(CSTOPB) }
        let speed = Self.speedConstant(settings.baud)
        cfsetispeed(&tio, speed)
        cfsetospeed(&tio, speed)
        guard tcsetattr(fd, TCSANOW, &tio) == 0 else {
            let code = errno
            return (code, String(cString: strerror(code)))
        }
        return nil
    }

    /// Enables the kernel RS-485 mode. Returns false when the port does not support it (PTYs and
    /// many USB adapters with automatic direction control); the caller logs that once.
    public func configureRS485(_ settings: RS485Settings) -> Bool {
        guard settings.enabled else { return true }
        return cplatform_set_rs485(fd, 1, settings.rtsActiveHigh ? 1 : 0, UInt32(settings.delayBeforeSendMilliseconds),
                                   UInt32(settings.delayAfterSendMilliseconds)) == 0
    }

    /// Discards unread input and unsent output (after a timeout, late bytes must not be taken for
    /// the next answer).
    public func flush() { tcflush(fd, TCIOFLUSH) }

    /// Whether the device behind the port is gone (a vanished USB adapter or simulator).
    public var hasHungUp: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, 0) >= 0 else { return true }
        return p.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0
    }

    public func close() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        if let spPort {
            sp_close(spPort)
            sp_free_port(spPort)
            self.spPort = nil
        } else {
            Glibc.close(fd)
        }
        fd = -1
    }

    static func speedConstant(_ baud: Int) -> speed_t {
        switch baud {
        case 300: return speed_t(B300)
        case 600: return speed_t(B600)
        case 1200: return speed_t(B1200)
        case 2400: return speed_t(B2400)
        case 4800: return speed_t(B4800)
        case 9600: return speed_t(B9600)
        case 19_200: return speed_t(B19200)
        case 38_400: return speed_t(B38400)
        case 57_600: return speed_t(B57600)
        default: return speed_t(B115200)
        }
    }
}
