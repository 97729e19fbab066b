/// The concentrator's version, reported in status and on the wire.
public enum ConcentratorVersion {
    public static let current = "0.1.0"
}
