#!/usr/bin/env bash
# Builds the gateway's Debian package from a built concentrator binary (`make deb` builds the
# static-stdlib release binary first and calls this). Contents: /usr/bin/concentrator (stripped),
# the systemd unit, meter profiles, board files and their udev rules, a default configuration (a
# conffile), the documentation, a manual page, and maintainer scripts that make the system user
# and the state directory. No keys: the agent makes them at its first start. The head-end and
# meter-sim are not in this package (they do not run on gateways).
#
#   scripts/make-deb.sh [--binary PATH] [--out DIR] [--lintian] [--compression xz|gzip]
#
# Prints the package path, then one JSON line with the sizes. Needs dpkg-dev (dpkg-deb,
# dpkg-shlibdeps) and binutils (strip); lintian only with --lintian.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
binary=$root/.build-gateway/concentrator
out=$root/out
run_lintian=no
compression=xz
# Who the package names as its maintainer (set DEB_MAINTAINER when you publish packages).
maintainer=${DEB_MAINTAINER:-concentrator maintainers <maintainers@concentrator.example.org>}
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary) binary=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --lintian) run_lintian=yes; shift ;;
        --compression) compression=$2; shift 2 ;;
        *) echo "make-deb: unknown argument $1" >&2; exit 64 ;;
    esac
done
if [[ ! -x $binary ]]; then
    echo "make-deb: no binary at $binary; build it first: make release" >&2
    exit 2
fi

version=$(sed -n 's/.*static let current = "\(.*\)".*/\1/p' "$root/Sources/ConcentratorCore/Version.swift")
arch=$(dpkg --print-architecture)
name=concentrator_${version}_${arch}
stage=$out/$name
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$out"
share=$stage/usr/share/concentrator
doc=$stage/usr/share/doc/concentrator

# The program, as scripts/build-gateway-binary.sh made it (stripped, without unwind tables).
install -D -m 0755 "$binary" "$stage/usr/bin/concentrator"

# Data the agent reads.
install -d -m 0755 "$share/profiles" "$share/boards" "$share/udev"
install -m 0644 "$root"/Profiles/*.json "$share/profiles/"
install -m 0644 "$root"/Board/*.json "$share/boards/"
install -m 0644 "$root"/Board/udev/*.rules "$share/udev/"

# The agent's systemd unit.
install -D -m 0644 "$root/Systemd/concentrator.service" "$stage/lib/systemd/system/concentrator.service"

# The serial-console pieces (Docs/console.md, "Serial console setup"). The installer account's login
# shell goes where the guide names it. The getty drop-in (for the board's console port only) and the
# sudoers rule (it grants a privilege) are not activated by the package: they wait in
# /usr/share/concentrator/console for the installer to copy them.
install -D -m 0755 "$root/Systemd/concentrator-console-shell" "$stage/usr/libexec/concentrator/console-shell"
install -D -m 0644 "$root/Systemd/serial-getty@.service.d/concentrator-console.conf" "$share/console/concentrator-console.conf"
install -D -m 0644 "$root/Systemd/sudoers-concentrator-console" "$share/console/sudoers-concentrator-console"

# The default configuration: valid, one bus, no meters (conffile: upgrades keep local changes).
install -D -m 0644 "$root/Packaging/config.json" "$stage/etc/concentrator/config.json"
echo /etc/concentrator/config.json >"$stage/DEBIAN/conffiles"

# Documentation, copyright, changelog, manual page.
install -d -m 0755 "$doc" "$doc/examples"
install -m 0644 "$root"/Docs/*.md "$root/Docs/config.schema.json" "$root/README.md" "$doc/"
install -m 0644 "$root"/Docs/examples/*.json "$doc/examples/"
install -m 0644 "$root/Packaging/deb/copyright" "$doc/copyright"
date_rfc=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}")
printf 'concentrator (%s) unstable; urgency=medium\n\n  * Built from the concentrator source tree.\n\n -- %s  %s\n' \
    "$version" "$maintainer" "$date_rfc" | gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -d -m 0755 "$stage/usr/share/man/man1"
gzip -9nc "$root/Docs/concentrator.1" >"$stage/usr/share/man/man1/concentrator.1.gz"
chmod 0644 "$stage/usr/share/man/man1/concentrator.1.gz"

# Maintainer scripts.
install -m 0755 "$root/Packaging/deb/postinst" "$root/Packaging/deb/prerm" "$root/Packaging/deb/postrm" "$stage/DEBIAN/"

# Shared-library dependencies of the binary, as dpkg-shlibdeps finds them.
shlibs_dir=$(mktemp -d)
trap 'rm -rf "$shlibs_dir"' EXIT
mkdir -p "$shlibs_dir/debian"
printf 'Source: concentrator\n\nPackage: concentrator\nArchitecture: any\n' >"$shlibs_dir/debian/control"
shlibs=$(cd "$shlibs_dir" && dpkg-shlibdeps -O -e"$stage/usr/bin/concentrator" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
# Packed relative relocations (DT_RELR, scripts/build-gateway-binary.sh) need glibc 2.36; Debian 12's
# symbols file does not map GLIBC_ABI_DT_RELR to a version, so dpkg-shlibdeps alone says 2.35.
if readelf -V "$stage/usr/bin/concentrator" | grep GLIBC_ABI_DT_RELR >/dev/null; then
  shlibs=$(printf '%s' "$shlibs" | sed -E 's/libc6 \(>= 2\.3[0-5]\)/libc6 (>= 2.36)/')
fi
installed_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<CONTROL
Package: concentrator
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $installed_kb
Depends: adduser, init-system-helpers (>= 1.54~), ${shlibs}
Section: net
Priority: optional
Homepage: https://github.com/concentrator/concentrator
Description: data concentrator for RS-485 meters on Linux gateways
 Reads electricity, water and heat meters over RS-485 (Modbus RTU),
 keeps weeks of interval archives in SQLite through power cuts and
 uplink outages, and delivers every reading sealed and signed over MQTT.
 .
 This package holds the agent (a systemd service), its meter profiles,
 board files for common gateways and their udev rules, and a default
 configuration to edit before the first start.
CONTROL
(cd "$stage" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums"

deb=$out/$name.deb
dpkg-deb --root-owner-group -Z"$compression" --build "$stage" "$deb" >/dev/null
echo "$deb"
if [[ $run_lintian == yes ]]; then
    if command -v lintian >/dev/null; then
        lintian --info --display-info "$deb" || true
    else
        echo "make-deb: lintian is not installed; skipped" >&2
    fi
fi
printf '{"package": "%s", "deb_bytes": %d, "binary_stripped_bytes": %d, "installed_kbytes": %d}\n' \
    "$(basename "$deb")" "$(stat -c %s "$deb")" "$(stat -c %s "$stage/usr/bin/concentrator")" "$installed_kb"
