# Entry points for people and CI. The scripts do the work; see each one's header.
SWIFT ?= swift
BOARDS := $(filter-out sim,$(basename $(notdir $(wildcard Board/*.json))))

.PHONY: build release deb test demo clean manual udev-rules systemd-check

# Debug build of everything, tests included.
build:
	$(SWIFT) build --build-tests

# The gateway binary as shipped (.build-gateway/concentrator): see scripts/build-gateway-binary.sh.
release:
	scripts/build-gateway-binary.sh

# The Debian package in out/ (with a lintian report): see scripts/make-deb.sh.
deb: release
	scripts/make-deb.sh --lintian

# Every test (installs missing dependencies first).
test:
	scripts/test.sh

demo:
	scripts/demo.sh

# systemd-analyze verify and security (exposure) for Systemd/.
systemd-check: build
	scripts/systemd-check.sh

# Docs/concentrator.1 from the CLI's help (after changing commands or options).
manual: build
	scripts/make-manual.sh

# Board/udev/*.rules from the board files (after changing a board file).
udev-rules:
	$(SWIFT) build --product concentrator
	for b in $(BOARDS); do .build/debug/concentrator board udev-rules Board/$$b.json >Board/udev/60-concentrator-$$b.rules; done

clean:
	rm -rf out
	$(SWIFT) package clean
