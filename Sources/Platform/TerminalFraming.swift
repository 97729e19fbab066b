#if canImport(Glibc)
import Glibc
#endif

/// Checks of a terminal's character framing, shared by the agent's serial port and the simulator's
/// pseudo-terminals: whether 7 data bits with parity hold (Linux PTYs answer EINVAL; older kernels
/// accept the request and keep 8 bits without parity).
public enum TerminalFraming {
    /// Whether the terminal of `fd` now holds 7 data bits with parity (odd parity when `odd`).
    public static func holdsSevenBitsWithParity(_ fd: Int32, odd: Bool = false) -> Bool {
        var tio = termios()
        guard tcgetattr(fd, &tio) == 0 else { return false }
        return tio.c_cflag & tcflag_t(CSIZE) == tcflag_t(CS7) && tio.c_cflag & tcflag_t(PARENB) != 0
            && (tio.c_cflag & tcflag_t(PARODD) != 0) == odd
    }

    /// Whether the terminal of `fd` accepts 7 data bits with even parity: sets it, reads it back and
    /// restores the settings it found.
    public static func acceptsSevenEven(_ fd: Int32) -> Bool {
        var saved = termios()
        guard tcgetattr(fd, &saved) == 0 else { return false }
        var tio = saved
        tio.c_cflag &= ~(tcflag_t(CSIZE) | tcflag_t(PARODD))
        tio.c_cflag |= tcflag_t(CS7) | tcflag_t(PARENB)
        let holds = tcsetattr(fd, TCSANOW, &tio) == 0 && holdsSevenBitsWithParity(fd)
        tcsetattr(fd, TCSANOW, &saved)
        return holds
    }
}
