import Foundation
import Testing
import TestSupport

/// The Debian package (scripts/make-deb.sh, here from the debug binary so the test stays fast; `make
/// deb` uses the static release binary and runs lintian): its contents, its control fields, and its
/// maintainer scripts run against a throwaway root without root-only tricks. The package is
/// unpacked with `dpkg-deb -x`; the scripts run with stand-ins for adduser, install, systemctl and
/// friends first in PATH, which record their arguments instead of changing this machine.
@Suite(.serialized) struct PackageTests {
    static let tools = ["/usr/bin/dpkg-deb", "/usr/bin/dpkg-shlibdeps", "/usr/bin/strip"].allSatisfy {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// The package built once for the suite.
    final class Package: @unchecked Sendable {
        let dir = TemporaryDirectory("package-test")
        let deb: String
        let root: String

        init() throws {
            let run = try runCommand("/bin/bash", [BuiltProducts.packageRoot + "/scripts/make-deb.sh", "--binary", BuiltProducts.path("concentrator"),
                                                   "--out", dir.file("out"), "--compression", "gzip"], timeout: .seconds(50))
            guard run.status == 0, let path = run.stdout.split(separator: "\n").first.map(String.init) else {
                throw FixtureError("make-deb failed: \(run.stdout)\(run.stderr)")
            }
            print(run.stdout)
            deb = path
            root = dir.file("root")
            let unpack = try runCommand("/usr/bin/dpkg-deb", ["-x", deb, root])
            guard unpack.status == 0 else { throw FixtureError("dpkg-deb -x: \(unpack.stderr)") }
            let control = try runCommand("/usr/bin/dpkg-deb", ["-e", deb, dir.file("control")])
            guard control.status == 0 else { throw FixtureError("dpkg-deb -e: \(control.stderr)") }
        }
    }

    /// One package for all checks (building it is most of the time).
    @Test(.enabled(if: tools, "dpkg-dev and binutils are not installed"), .timeLimit(.minutes(2)))
    func packageFromBuildToMaintainerScripts() throws {
        let package = try Package()
        try contentsAndControlFields(package)
        try unpackedTreeWorks(package)
        try maintainerScriptsMakeTheUserAndTheStateDirectory(package)
    }

    private func contentsAndControlFields(_ package: Package) throws {
        let listing = try runCommand("/usr/bin/dpkg-deb", ["-c", package.deb]).stdout
        let entries = listing.split(separator: "\n").map { line -> (mode: String, owner: String, path: String) in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            return (fields[0], fields[1], String(fields[5].dropFirst()))
        }
        func entry(_ path: String) -> (mode: String, owner: String, path: String)? { entries.first { $0.path == path } }
        #expect(entries.allSatisfy { $0.owner == "root/root" })
        #expect(entry("/usr/bin/concentrator")?.mode == "-rwxr-xr-x")
        #expect(entry("/lib/systemd/system/concentrator.service")?.mode == "-rw-r--r--")
        // The console's login shell is installed where the guide names it; the getty drop-in and the
        // sudoers rule wait for the installer, they are not activated for every serial port.
        #expect(entry("/usr/libexec/concentrator/console-shell")?.mode == "-rwxr-xr-x")
        #expect(entry("/usr/share/concentrator/console/concentrator-console.conf")?.mode == "-rw-r--r--")
        #expect(entry("/usr/share/concentrator/console/sudoers-concentrator-console")?.mode == "-rw-r--r--")
        #expect(!entries.contains { $0.path.hasPrefix("/lib/systemd/system/serial-getty") || $0.path.hasPrefix("/etc/sudoers") })
        #expect(entries.filter { $0.path.hasPrefix("/lib/systemd/system/") && !$0.path.hasSuffix("/") }.map(\.path)
                == ["/lib/systemd/system/concentrator.service"])
        #expect(entry("/etc/concentrator/config.json")?.mode == "-rw-r--r--")
        #expect(entry("/usr/share/man/man1/concentrator.1.gz") != nil)
        #expect(entry("/usr/share/doc/concentrator/copyright") != nil)
        #expect(entry("/usr/share/doc/concentrator/changelog.gz") != nil)
        let root = BuiltProducts.packageRoot
        for profile in try FileManager.default.contentsOfDirectory(atPath: root + "/Profiles") where profile.hasSuffix(".json") {
            #expect(entry("/usr/share/concentrator/profiles/" + profile) != nil, "\(profile)")
        }
        for board in try FileManager.default.contentsOfDirectory(atPath: root + "/Board") where board.hasSuffix(".json") {
            #expect(entry("/usr/share/concentrator/boards/" + board) != nil, "\(board)")
        }
        for rules in try FileManager.default.contentsOfDirectory(atPath: root + "/Board/udev") {
            #expect(entry("/usr/share/concentrator/udev/" + rules) != nil, "\(rules)")
        }
        // Only the gateway's program; no simulator, no head-end, no keys, no state.
        #expect(entry("/usr/bin/meter-sim") == nil && entry("/usr/bin/headend") == nil)
        #expect(!entries.contains { $0.path.hasPrefix("/var/") || $0.path.contains("key") })

        let control = try String(contentsOfFile: package.dir.file("control/control"), encoding: .utf8)
        #expect(control.contains("Package: concentrator\n"))
        let depends = try #require(control.split(separator: "\n").first { $0.hasPrefix("Depends: ") })
        for library in ["adduser", "libmodbus5", "libserialport0", "libsqlite3-0", "libmosquitto1", "libzstd1", "libc6"] {
            #expect(depends.contains(library), "Depends lacks \(library): \(depends)")
        }
        #expect(try String(contentsOfFile: package.dir.file("control/conffiles"), encoding: .utf8) == "/etc/concentrator/config.json\n")
        for script in ["postinst", "prerm", "postrm"] {
            let path = package.dir.file("control/" + script)
            #expect(FileManager.default.isExecutableFile(atPath: path), "\(script)")
            #expect(try runCommand("/bin/sh", ["-n", path]).status == 0, "\(script) has a syntax error")
        }
    }

    /// The unpacked tree works as installed: the binary finds its profiles beside it
    /// (../share/concentrator/profiles), the default configuration validates, the shipped udev
    /// rules are the board files' rules, and the man page names every subcommand.
    private func unpackedTreeWorks(_ package: Package) throws {
        let binary = package.root + "/usr/bin/concentrator"
        let environment = ["CONCENTRATOR_PROFILES": ""]
        let check = try runCommand(binary, ["config", "check", package.root + "/etc/concentrator/config.json"], environment: environment)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("1 buses, 0 meters"))
        // The shipped profiles are found next to the binary: a config naming one validates.
        let withMeter = package.dir.file("with-meter.json")
        try #"{"device": {"id": "gw"}, "buses": [{"name": "b", "device": "/dev/ttyRS485-1"}], "meters": [{"id": "m", "bus": "b", "address": 1, "profile": "eastron-sdm630"}]}"#
            .write(toFile: withMeter, atomically: true, encoding: .utf8)
        let meterCheck = try runCommand(binary, ["config", "check", withMeter], environment: environment)
        #expect(meterCheck.status == 0, "\(meterCheck.stderr)")

        let boards = package.root + "/usr/share/concentrator/boards"
        for board in try FileManager.default.contentsOfDirectory(atPath: boards) where board != "sim.json" {
            let rules = try runCommand(binary, ["board", "udev-rules", boards + "/" + board])
            let shipped = try String(contentsOfFile: package.root + "/usr/share/concentrator/udev/60-concentrator-\(board.dropLast(5)).rules",
                                     encoding: .utf8)
            #expect(rules.stdout == shipped, "\(board)")
        }

        let help = try runCommand(binary, ["--help"]).stdout
        // "  name   description": two spaces, then the name; wrapped description lines are indented deeper.
        let section = help.components(separatedBy: "SUBCOMMANDS:\n").last?.components(separatedBy: "\n\n").first ?? ""
        let subcommands = section.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
            .compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(subcommands.contains("run") && subcommands.contains("board"))
        let manual = try runCommand("/bin/sh", ["-c", "gzip -dc '\(package.root)/usr/share/man/man1/concentrator.1.gz'"]).stdout
        for sub in subcommands where sub != "help" {
            #expect(manual.contains(".It Em \(sub)"), "the manual page lacks \(sub); run: make manual")
        }
    }

    /// Runs a maintainer script with recording stand-ins; returns the recorded command lines.
    private func runMaintainerScript(_ script: String, _ arguments: [String], existingUser: Bool, in package: Package) throws -> [String] {
        let stubs = package.dir.file("stubs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: stubs, withIntermediateDirectories: true)
        let log = stubs + "/calls.log"
        let recorder = "#!/bin/sh\necho \"$(basename \"$0\") $*\" >>'\(log)'\n"
        for tool in ["addgroup", "adduser", "install", "deb-systemd-helper", "deb-systemd-invoke", "systemctl", "rm", "chown", "chmod", "udevadm"] {
            try recorder.write(toFile: stubs + "/" + tool, atomically: true, encoding: .utf8)
            chmod(stubs + "/" + tool, 0o755)
        }
        // getent: the user and group exist only on an upgrade; no gpio group here.
        let getent = "#!/bin/sh\necho \"getent $*\" >>'\(log)'\n" + (existingUser ? "[ \"$2\" = concentrator ] && exit 0\n" : "") + "exit 2\n"
        try getent.write(toFile: stubs + "/getent", atomically: true, encoding: .utf8)
        chmod(stubs + "/getent", 0o755)
        let run = try runCommand("/bin/sh", [package.dir.file("control/" + script)] + arguments,
                                 environment: ["PATH": stubs + ":/usr/bin:/bin", "DPKG_MAINTSCRIPT_PACKAGE": "concentrator"])
        #expect(run.status == 0, "\(script) \(arguments): \(run.stderr)")
        return readTextFile(log).split(separator: "\n").map(String.init)
    }

    private func maintainerScriptsMakeTheUserAndTheStateDirectory(_ package: Package) throws {
        // With systemd running (not in containers), the scripts also reload it and start or stop the unit.
        let systemdRuns = FileManager.default.fileExists(atPath: "/run/systemd/system")
        let install = try runMaintainerScript("postinst", ["configure"], existingUser: false, in: package)
        let expectedInstall = [
            "getent group concentrator",
            "addgroup --system concentrator",
            "getent passwd concentrator",
            "adduser --system --ingroup concentrator --home /var/lib/concentrator --no-create-home --shell /usr/sbin/nologin --gecos Gateway data concentrator concentrator",
            "adduser --quiet concentrator dialout",
            "getent group gpio",
            "install -d -m 0700 -o concentrator -g concentrator /var/lib/concentrator",
            "chown root:concentrator /etc/concentrator /etc/concentrator/config.json",
            "chmod 2775 /etc/concentrator",
            "chmod 0664 /etc/concentrator/config.json",
            "deb-systemd-helper unmask concentrator.service",
            "deb-systemd-helper --quiet was-enabled concentrator.service",
            "deb-systemd-helper enable concentrator.service",
        ] + (systemdRuns ? ["systemctl --system daemon-reload", "deb-systemd-invoke start concentrator.service"] : [])
        #expect(install == expectedInstall)
        #expect(!install.contains { $0.contains("key") }, "keys are made by the agent at first start, not by the package")

        let upgrade = try runMaintainerScript("postinst", ["configure", "0.0.9"], existingUser: true, in: package)
        #expect(!upgrade.contains { $0.hasPrefix("addgroup") || $0.hasPrefix("adduser --system") })
        #expect(upgrade.contains("adduser --quiet concentrator dialout"))
        #expect(!systemdRuns || upgrade.last == "deb-systemd-invoke restart concentrator.service")

        let remove = try runMaintainerScript("postrm", ["remove"], existingUser: true, in: package)
        #expect(remove == (systemdRuns ? ["systemctl --system daemon-reload"] : []) + ["deb-systemd-helper mask concentrator.service"])
        #expect(!remove.contains { $0.hasPrefix("rm ") }, "remove keeps the archive and keys")
        let purge = try runMaintainerScript("postrm", ["purge"], existingUser: true, in: package)
        #expect(purge == ["deb-systemd-helper purge concentrator.service", "deb-systemd-helper unmask concentrator.service",
                          "rm -rf /var/lib/concentrator"])
        #expect(try runMaintainerScript("prerm", ["upgrade", "0.1.0"], existingUser: true, in: package).isEmpty)
    }
}
