import Testing
import ConcentratorCore
@testable import MeterProtocols

/// The heard list: one entry per identity, count, last RSSI, bounded by evicting the least
/// recently heard.
@Suite struct HeardListTests {
    static func identity(_ n: UInt32) -> MBusIdentity { MBusIdentity(number: n, manufacturer: MBusManufacturer.code("KAM")!, version: 1, medium: 7) }

    @Test func countsKeepsTheLastRSSIAndSortsByStrength() {
        var list = HeardMeterList(capacity: 10)
        list.record(Self.identity(1), rssi: -80, at: Timestamp(seconds: 10), securityMode: 5)
        list.record(Self.identity(2), rssi: -50, at: Timestamp(seconds: 11), securityMode: 0)
        list.record(Self.identity(1), rssi: -70, at: Timestamp(seconds: 20), securityMode: nil)
        list.record(Self.identity(1), rssi: nil, at: Timestamp(seconds: 30), securityMode: 7)
        #expect(list.count == 2)
        let first = list.entries[0], second = list.entries[1]
        #expect(first.identity == Self.identity(2))
        #expect(second.count == 3 && second.lastRSSI == -70 && second.securityMode == 7)
        #expect(second.firstHeard == Timestamp(seconds: 10) && second.lastHeard == Timestamp(seconds: 30))
        list.remove(Self.identity(2))
        #expect(list.entries.map(\.identity) == [Self.identity(1)])
    }

    @Test func aFullListDropsTheLeastRecentlyHeard() {
        var list = HeardMeterList(capacity: 3)
        for n in 1...3 { list.record(Self.identity(UInt32(n)), rssi: -60, at: Timestamp(seconds: Int64(n)), securityMode: 0) }
        list.record(Self.identity(1), rssi: -60, at: Timestamp(seconds: 10), securityMode: 0)
        list.record(Self.identity(4), rssi: -60, at: Timestamp(seconds: 11), securityMode: 0)
        #expect(list.count == 3)
        #expect(Set(list.entries.map(\.identity.number)) == [1, 3, 4])
    }

    @Test func identitiesPrintAsInstallersRead() {
        let id = MBusIdentity(number: 0x1234_5678, manufacturer: MBusManufacturer.code("ELS")!, version: 51, medium: 3)
        #expect(id.manufacturer == 0x1593)
        #expect(id.description == "12345678 ELS v51 gas (03)")
        #expect(id.secondaryAddressText == "1234567815933303")
        #expect(MBusManufacturer.letters(0xFFFF) == "?FFFF")
        let address = MBusSecondaryAddress(text: "12345678FFFFFFFF")
        #expect(address?.matches(id) == true && address?.isExact == false)
        #expect(MBusSecondaryAddress(text: "1234567815933303")?.isExact == true)
        #expect(MBusSecondaryAddress(text: "1F345678")?.matches(id) == true)
        #expect(MBusSecondaryAddress(text: "1234567815933304")?.matches(id) == false)
        #expect(MBusSecondaryAddress(text: "12345G78") == nil)
        #expect(MBusSecondaryAddress(exactly: id).description == "1234567815933303")
    }
}
