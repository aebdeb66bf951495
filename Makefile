# Kiosk appliance: build, test and run from a fresh Debian 12 machine.
#   make demo   builds and runs the kiosk with simulated devices (UI on http://127.0.0.1:8080)
#   make test   installs what the tests need, starts pcscd, runs every test, stops pcscd
SHELL      := /bin/bash
GO         ?= go
PREFIX     ?= /usr
DESTDIR    ?=
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X github.com/vnkiosk/kiosk/kiosk/version.Version=$(VERSION)
TOOLS      := $(CURDIR)/bin/tools
STATICCHECK_VERSION := v0.7.0
GOVULNCHECK_VERSION := v1.1.4
FUZZTIME   ?= 60s
# axe-core, the accessibility engine the UI tests inject into Chromium: the npm
# package at an exact version, checked against the hash of its axe.min.js.
AXE_VERSION := 4.10.3
AXE_SHA256  := 880970c081707360e64f34cea25ff91892f5bc95675b0776925b9709dd8a68bb
AXE_JS      := build/npm/node_modules/axe-core/axe.min.js

# Debian packages the build, the demo and the tests use.
DEB_PACKAGES := gcc libc6-dev pkg-config git ca-certificates systemd sysvinit-utils openssl \
	pcscd libpcsclite-dev vsmartcard-vpcd pcsc-tools \
	libopenjp2-7-dev libopenjp2-tools \
	sane-utils zbar-tools tesseract-ocr tesseract-ocr-vie fonts-dejavu-core \
	chromium cage espeak-ng sox swtpm swtpm-tools

# Packages whose tests talk to pcscd, and which are concurrent enough to run
# under the race detector.
RACE_PACKAGES := ./kiosk/... ./devices/... ./ui/...

.PHONY: all deps tools axe build test test-unit demo bench lint fuzz soak install deb clean

all: build

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "deps: installing $$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
		echo "deps: missing Debian packages; run as root:"; \
		echo "  apt-get update && apt-get install -y --no-install-recommends $$missing"; exit 1; \
	fi

tools: $(TOOLS)/staticcheck $(TOOLS)/govulncheck
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/govulncheck:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

axe: $(AXE_JS)
$(AXE_JS):
	@command -v npm >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then echo "axe: installing npm"; apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null; \
		else echo "axe: npm is missing; run as root: apt-get install npm"; exit 1; fi; }
	npm install --prefix build/npm --no-save --no-audit --no-fund --loglevel=error axe-core@$(AXE_VERSION)
	@echo "$(AXE_SHA256)  $(AXE_JS)" | sha256sum -c --quiet - || { rm -f $(AXE_JS); echo "axe: axe.min.js does not match the pinned hash"; exit 1; }

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/kioskd ./cmd/kioskctl

# Everything: static checks, unit tests, race tests of the concurrent packages and
# integration tests through real pcscd + vpcd. scripts/services.sh starts pcscd
# and stops it by PID whatever the outcome.
test: deps tools axe build
	@echo "== static checks"
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	@echo "== tests (pcscd started for the run)"
	KIOSK_REQUIRE_PCSCD=1 KIOSK_REQUIRE_TOOLS=1 scripts/services.sh $(GO) test -count=1 -race -timeout 15m $(RACE_PACKAGES)
	KIOSK_REQUIRE_PCSCD=1 KIOSK_REQUIRE_TOOLS=1 scripts/services.sh $(GO) test -count=1 -timeout 10m ./cmd/... ./systemd/... ./packaging/...

# Unit tests only: no services, no Debian packages beyond the compiler.
test-unit:
	$(GO) test ./...

demo: deps build
	SERVICES_OPTIONAL=1 scripts/services.sh bin/kioskd --demo $(DEMO_FLAGS)

bench: deps axe build
	scripts/services.sh scripts/bench.sh

lint: tools
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; exit 1; }
	$(TOOLS)/staticcheck ./...
	@$(TOOLS)/govulncheck ./... 2>&1 | tee /tmp/govulncheck.$$$$ ; rc=$${PIPESTATUS[0]}; \
	if [ $$rc -ne 0 ] && grep -q "fetching vulnerabilities" /tmp/govulncheck.$$$$; then \
		echo "govulncheck: the vulnerability database (vuln.go.dev) is unreachable from this machine; not checked"; rc=0; fi; \
	rm -f /tmp/govulncheck.$$$$; exit $$rc

# Long fuzzing: every Fuzz target for FUZZTIME each (CI does not run this).
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "== $$pkg $$f"; $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=1s $$pkg || exit 1; \
		done; done

soak: build
	KIOSK_SOAK=1 scripts/services.sh $(GO) test -run Soak -timeout 2h ./...

install: build
	install -D -m 0755 bin/kioskd $(DESTDIR)$(PREFIX)/bin/kioskd
	install -D -m 0755 bin/kioskctl $(DESTDIR)$(PREFIX)/bin/kioskctl
	install -D -m 0644 systemd/kioskd.service $(DESTDIR)/lib/systemd/system/kioskd.service
	install -D -m 0644 systemd/kiosk-browser@.service $(DESTDIR)/lib/systemd/system/kiosk-browser@.service
	install -D -m 0644 systemd/70-kiosk.rules $(DESTDIR)/lib/udev/rules.d/70-kiosk.rules
	install -D -m 0644 systemd/kiosk.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/kiosk.conf
	install -D -m 0640 kiosk/config/example.yaml $(DESTDIR)/etc/kioskd/kioskd.yaml.example
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/kiosk/README.md

# The Debian package, dist/kiosk_<version>_<arch>.deb, built with dpkg-deb from
# what `make install` lays out (scripts/deb.sh; DIST=dir writes elsewhere).
deb:
	VERSION='$(VERSION)' GO='$(GO)' scripts/deb.sh

clean:
	rm -rf bin dist build
