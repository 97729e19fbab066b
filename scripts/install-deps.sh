#!/usr/bin/env bash
# Installs what building, testing and the demo need on Debian/Ubuntu, only if it is missing.
# The Swift toolchain itself must already be installed (swift.org).
set -euo pipefail

packages=(
  pkg-config
  libmodbus-dev libserialport-dev libsqlite3-dev libmosquitto-dev libzstd-dev  # C libraries
  mosquitto mosquitto-clients   # the MQTT broker the tests and the demo start on loopback
  openssl                       # certificates for the MQTT TLS tests
  socat tmux sqlite3            # PTY plumbing, the console tests' terminal, archive inspection
  python3 python3-jsonschema    # validating Docs/config.schema.json in the tests
  systemd                       # systemd-analyze verify for the unit files
  dpkg-dev fakeroot lintian binutils  # make deb (dpkg-deb, dpkg-shlibdeps, strip, lintian)
  make                          # the Makefile's entry points
  procps                        # ps/pgrep in scripts
  postgresql libpq-dev          # the head-end's PostgreSQL store: libpq to build, a throwaway server for tests and the fleet demo
  tzdata                        # /usr/share/zoneinfo: the zone rules schedules follow (Monitoring.ZoneRules)
  chromium                      # headless browser for the dashboard tests (HeadEndWeb, DashboardBrowserTests)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
