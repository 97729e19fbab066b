/// `keys.rotate` (admin): new device keys; the reply (signed with the old key) carries the new public
/// key documents, and the device switches after it is out.
enum KeysRotateVerb: CommandVerbHandler {
    static let minimumRole = CommandRole.admin

    static func parse(_ arguments: CommandArguments) -> CommandAction? { .keysRotate }

    static func run(on device: any CommandDevice) -> CommandOutcome { device.rotateKeys() }
}
