import ConcentratorCore
import Foundation
import HeadEnd
import HeadEndWeb
import Logging
import Platform
import Testing
import TestSupport

/// The dashboard's security pieces on their own: the scrypt password hashes, sessions and their
/// expiry, CSRF token comparison, roles and the form decoder.
@Suite struct DashboardAuthTests {
    /// Small parameters keep the test fast; the format and the check are the same as the standard's.
    let quick = PasswordHasher(logN: 10, blockSize: 8, parallelism: 1)

    @Test func aPasswordVerifiesOnlyItself() throws {
        let hash = try quick.hash("correct horse battery staple")
        #expect(hash.hasPrefix("scrypt$10$8$1$"))
        #expect(hash.split(separator: "$").count == 6)
        #expect(PasswordHasher.verify("correct horse battery staple", against: hash))
        #expect(!PasswordHasher.verify("correct horse battery stapl", against: hash))
        #expect(!PasswordHasher.verify("", against: hash))
        // A random salt: the same password hashes differently each time, and both verify.
        let again = try quick.hash("correct horse battery staple")
        #expect(again != hash && PasswordHasher.verify("correct horse battery staple", against: again))
    }

    @Test func aTamperedOrForeignHashNeverVerifies() throws {
        let hash = try quick.hash("s3cret-password!")
        var parts = hash.split(separator: "$").map(String.init)
        parts[5] = String(parts[5].reversed())
        #expect(!PasswordHasher.verify("s3cret-password!", against: parts.joined(separator: "$")))
        parts = hash.split(separator: "$").map(String.init)
        parts[1] = "9"   // other work factor: another result
        #expect(!PasswordHasher.verify("s3cret-password!", against: parts.joined(separator: "$")))
        parts[1] = "40"  // out of the accepted range: refused before any work
        #expect(!PasswordHasher.verify("s3cret-password!", against: parts.joined(separator: "$")))
        #expect(!PasswordHasher.verify("x", against: "plain-text-password"))
        #expect(!PasswordHasher.verify("x", against: ""))
    }

    @Test func theStandardParametersAreOWASPsAndWork() throws {
        #expect(PasswordHasher.standard.logN >= 17 && PasswordHasher.standard.blockSize == 8 && PasswordHasher.standard.parallelism == 1)
        let start = ContinuousClock.now
        let hash = try PasswordHasher.standard.hash("a long enough password")
        let took = ContinuousClock.now - start
        #expect(hash.hasPrefix("scrypt$17$8$1$"))
        #expect(PasswordHasher.verify("a long enough password", against: hash))
        #expect(took > .milliseconds(20), "scrypt N=2^17 cannot be this fast: \(took)")
        #expect(!PasswordHasher.decoy.isEmpty && !PasswordHasher.verify("", against: PasswordHasher.decoy))
    }

    @Test func sessionsExpireWhenIdleAndAfterTheirLifetime() {
        let clock = ManualClock(Timestamp(seconds: 1_800_000_000))
        let sessions = DashboardSessions(clock: clock, idleTimeoutSeconds: 60, absoluteTimeoutSeconds: 300)
        let (token, created) = sessions.create(user: "ann", role: .operator)
        #expect(token.count == 64 && created.csrfToken.count == 64 && token != created.csrfToken)
        #expect(sessions.session(for: token)?.user == "ann")
        #expect(sessions.session(for: String(token.reversed())) == nil)
        // Used every 50 s: alive past the idle timeout, until the absolute lifetime ends it.
        for _ in 0..<5 {
            clock.advance(milliseconds: 50_000)
            #expect(sessions.session(for: token) != nil)
        }
        clock.advance(milliseconds: 50_000)
        #expect(sessions.session(for: token) == nil, "300 s after login the session is over")
        // Idle for the timeout: gone.
        let (second, _) = sessions.create(user: "bob", role: .reader)
        clock.advance(milliseconds: 60_000)
        #expect(sessions.session(for: second) == nil)
        // Logout ends it at once.
        let (third, _) = sessions.create(user: "cy", role: .admin)
        sessions.end(third)
        #expect(sessions.session(for: third) == nil)
    }

    @Test func csrfTokensMustMatchExactly() {
        let sessions = DashboardSessions(clock: ManualClock(Timestamp(seconds: 0)))
        let (_, s) = sessions.create(user: "ann", role: .operator)
        #expect(DashboardSessions.csrfMatches(s, s.csrfToken))
        #expect(!DashboardSessions.csrfMatches(s, nil))
        #expect(!DashboardSessions.csrfMatches(s, ""))
        #expect(!DashboardSessions.csrfMatches(s, String(s.csrfToken.dropLast()) + (s.csrfToken.hasSuffix("0") ? "1" : "0")))
        let (_, other) = sessions.create(user: "ann", role: .operator)
        #expect(!DashboardSessions.csrfMatches(s, other.csrfToken), "another session's token is refused")
    }

    @Test func onlyOperatorsAndAdminsMaySendCommands() {
        #expect(!DashboardRole.reader.maySendCommands)
        #expect(DashboardRole.operator.maySendCommands)
        #expect(DashboardRole.admin.maySendCommands)
    }

    @Test func formBodiesDecodeLikeBrowsersEncode() {
        let form = FormBody(Array("user=ann+lee&password=p%40ss%3Dw%2Brd&csrf=ab&csrf=cd&empty=&bad=%zz".utf8))
        #expect(form["user"] == "ann lee")
        #expect(form["password"] == "p@ss=w+rd")
        #expect(form["csrf"] == "ab", "the first of duplicate names counts")
        #expect(form["empty"] == "")
        #expect(form["bad"] == "%zz")
        #expect(form["missing"] == nil)
    }

    @Test func webAddressesParse() throws {
        let s = try DashboardSettings.parse("127.0.0.1:8080")
        #expect(s.host == "127.0.0.1" && s.port == 8080)
        #expect(throws: HeadEndWebError.self) { try DashboardSettings.parse("127.0.0.1") }
        #expect(throws: HeadEndWebError.self) { try DashboardSettings.parse(":80") }
        #expect(throws: HeadEndWebError.self) { try DashboardSettings.parse("localhost:70000") }
    }

    @Test func htmlIsEscaped() {
        #expect(HTML.escape("<script>\"x\" & 'y'</script>") == "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;")
        #expect(HTML.urlComponent("a b/ü") == "a%20b%2F%C3%BC")
    }
}
