import ConcentratorCore
import Testing

@Suite struct MinuteAllowanceTests {
    @Test func theAllowanceIsPerMinuteAndTheRestIsCounted() {
        var a = MinuteAllowance(perMinute: 3)
        let t = Timestamp(milliseconds: 1_795_255_200_000)  // on a minute boundary
        let first = (0..<6).map { a.take(at: t.adding(milliseconds: Int64($0) * 1000)) }
        #expect(first == [.admitted, .admitted, .admitted, .exhausted, .counted, .counted])
        #expect(a.takeCountedInPreviousMinute() == 0, "the minute is not over")
        #expect(a.take(at: t.adding(seconds: 60)) == .admitted, "a new minute, a new allowance")
        #expect(a.takeCountedInPreviousMinute() == 3 && a.takeCountedInPreviousMinute() == 0, "reported once")
        #expect(a.take(at: t.adding(seconds: 59)) == .admitted, "a clock set back starts another minute, never a negative count")
    }
}
