import ConcentratorCore

/// The timing and framing rules of IEC 62056-21:2002 (Direct local data exchange), in one place.
///
/// - Character format (clause 5, "character format" and "character security"): one start bit,
///   seven data bits, even parity (ISO/IEC 1177), one stop bit; the sign-on runs at 300 baud.
/// - Reaction time `tr` (clause 6, message timing): between the reception of a message and the
///   transmission of the answer, 200 ms ≤ tr ≤ 1500 ms; 20 ms is the minimum when the third
///   letter of the manufacturer identification is lower case (for example `ISk`).
/// - Inter-character time `ta`: the gap between two characters of one message is below 1500 ms.
/// - Protocol mode C (clause 6, protocol modes A–E): the acknowledgement/option select message is sent
///   at the sign-on rate; then both sides switch to the agreed rate and the data message follows
///   after `tr`. The HHU must let the option select leave the port at the old rate before it
///   switches: `optionSelectSwitchDelay`.
/// - Programming mode inactivity: a tariff device leaves programming mode after 60–120 s without a
///   valid message; the break message `SOH B0 ETX BCC` ends it at once.
///
/// The same values are quoted by the reference clients this project checked them against
/// (pwitab/iec62056-21 `client.py`: 200 ms and 20 ms reaction times; EMH client code: "tr ≤ 1500 ms,
/// ta ≤ 1500 ms").
public enum IECTiming {
    /// The sign-on line: 300 baud, 7 data bits, even parity, 1 stop bit.
    public static let signOnLine = LineSettings(baud: 300, dataBits: 7, parity: .even, stopBits: 1)

    /// Lower bound of `tr` for an ordinary manufacturer identification (three upper-case letters).
    public static let minimumReaction: Duration = .milliseconds(200)
    /// Lower bound of `tr` when the third manufacturer letter is lower case.
    public static let shortMinimumReaction: Duration = .milliseconds(20)
    /// Upper bound of `tr`.
    public static let maximumReaction: Duration = .milliseconds(1500)
    /// Upper bound of `ta`, the gap between two characters inside one message.
    public static let maximumInterCharacter: Duration = .milliseconds(1500)

    /// Extra wait beyond the standard's bounds, for a loaded host and a USB adapter's latency.
    public static let margin: Duration = .milliseconds(150)

    /// A tariff device in programming mode gives up after this long without a valid message (the
    /// lower end of the standard's 60–120 s).
    public static let programmingInactivity: Duration = .seconds(60)

    /// How often a message is sent again after a NAK (or re-requested after a bad BCC) before the
    /// session gives up. Not fixed by the standard; three repeats ride out a noisy line.
    public static let repeatLimit = 3

    /// The wire time of `characters` characters on `line`.
    public static func wireTime(characters: Int, on line: LineSettings) -> Duration {
        .microseconds(Int64(line.wireMicroseconds(characters: characters).rounded(.up)))
    }

    /// How long to stay at the old rate after handing the option select message (`count`
    /// characters, normally 6) to the port: its wire time plus one character, so the last stop bit
    /// is out before the UART changes speed (about 233 ms at 300 baud). The write must not be
    /// drained first: the device answers `tr` ≥ 200 ms after the last character, at the new rate.
    public static func optionSelectSwitchDelay(characters count: Int = 6, on line: LineSettings) -> Duration {
        wireTime(characters: count + 1, on: line)
    }

    /// The wait for an answer to a message of `sentCharacters` characters just handed to the port
    /// on `line`: its wire time (the write is not drained), then `tr` at most, plus the margin.
    public static func answerWait(afterSending sentCharacters: Int, on line: LineSettings) -> AnswerWait {
        AnswerWait(firstByteWithin: wireTime(characters: sentCharacters, on: line) + maximumReaction + margin,
                   interCharacterGap: maximumInterCharacter + margin)
    }

    /// The wait for an answer that follows without anything sent (mode B after the identification,
    /// mode C after the switch).
    public static let followingAnswerWait = AnswerWait(firstByteWithin: maximumReaction + margin,
                                                       interCharacterGap: maximumInterCharacter + margin)
}
