// Package sanesim turns SANE's own `test` backend into the kiosk's scanner
// simulator. It writes a private SANE configuration directory — dll.conf naming
// only `test`, and a test.conf giving the backend an A4 bed, a document-like
// picture, and optionally a fault or a slow transfer — that scanimage reads
// through SANE_CONFIG_DIR (the scanner driver's Options.ConfigDir). Scans still
// cross the real libsane, dll loader and scanimage, so the driver cannot tell the
// simulator from a scanner except by its name. Faults are the backend's own
// switch (read-status-code), which makes every sane_read of every page return
// that status.
package sanesim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vnkiosk/kiosk/internal/atomicfile"
)

// Device is the SANE name of the simulated scanner: the first test device.
const Device = "test:0"

// Picture is what the test backend draws on every page.
type Picture string

// Pictures the test backend draws.
const (
	// Grid is a black-and-white checkerboard of 10 mm squares: sharp edges on
	// flat areas, the closest the backend comes to a printed page.
	Grid Picture = "Grid"
	// ColourPattern is dense one-pixel stripes and checks: the worst case for
	// JPEG, used to check the size budget holds on a hostile page.
	ColourPattern Picture = "Color pattern"
	White         Picture = "Solid white"
	Black         Picture = "Solid black"
)

// Fault is a failure the backend reports on every sane_read.
type Fault string

// Faults the simulator injects; the string is the flag value kioskctl takes.
const (
	NoFault      Fault = ""
	Jammed       Fault = "jammed"
	NoDocs       Fault = "no-docs"
	Busy         Fault = "busy"
	CoverOpen    Fault = "cover-open"
	IOError      Fault = "io-error"
	AccessDenied Fault = "access-denied"
)

var saneStatus = map[Fault]string{
	NoFault:      "Default",
	Jammed:       "SANE_STATUS_JAMMED",
	NoDocs:       "SANE_STATUS_NO_DOCS",
	Busy:         "SANE_STATUS_DEVICE_BUSY",
	CoverOpen:    "SANE_STATUS_COVER_OPEN",
	IOError:      "SANE_STATUS_IO_ERROR",
	AccessDenied: "SANE_STATUS_ACCESS_DENIED",
}

// Faults lists the injectable faults, NoFault excluded.
func Faults() []Fault {
	return []Fault{Jammed, NoDocs, Busy, CoverOpen, IOError, AccessDenied}
}

// ParseFault parses a fault name as kioskctl takes it ("" is no fault).
func ParseFault(s string) (Fault, error) {
	if _, ok := saneStatus[Fault(s)]; ok {
		return Fault(s), nil
	}
	names := make([]string, 0, len(saneStatus))
	for _, f := range Faults() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown scanner fault %q; known: %s", s, strings.Join(names, ", "))
}

// Config describes the simulated scanner.
type Config struct {
	Picture Picture // default Grid
	Fault   Fault
	// ReadDelay is the backend's pause between transfers (1 ms to 200 ms; 0
	// for none), so a scan lasts long enough to be cancelled: at 200 ms an A4
	// page at 150 dpi grey takes about 3 s instead of 10 ms.
	ReadDelay time.Duration
	// Devices is how many test devices exist, test:0 to test:N-1 (default 1).
	// Raising it "plugs in" test:N; at least one must exist, because the test
	// backend crashes when configured with none.
	Devices int
}

// bedMM is the simulated bed: A4, where the backend's own default is 200 mm square.
const bedMM = 297

// Write writes the SANE configuration for c into dir, creating dir (0700) if
// needed. Rewriting it while scans run is safe: each scanimage reads it at start.
func Write(dir string, c Config) error {
	if c.Picture == "" {
		c.Picture = Grid
	}
	switch c.Picture {
	case Grid, ColourPattern, White, Black:
	default:
		return fmt.Errorf("sanesim: unknown picture %q", c.Picture)
	}
	status, ok := saneStatus[c.Fault]
	if !ok {
		return fmt.Errorf("sanesim: unknown fault %q", c.Fault)
	}
	if c.ReadDelay != 0 && (c.ReadDelay < time.Millisecond || c.ReadDelay > 200*time.Millisecond) {
		return fmt.Errorf("sanesim: read delay %s outside the backend's 1ms..200ms", c.ReadDelay)
	}
	if c.Devices == 0 {
		c.Devices = 1
	}
	if c.Devices < 1 || c.Devices > 16 {
		return fmt.Errorf("sanesim: %d devices; the test backend takes 1 to 16", c.Devices)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sanesim: %w", err)
	}
	delay := c.ReadDelay > 0
	conf := fmt.Sprintf(`# Written by sanesim: the kiosk's simulated scanner.
number_of_devices %d
mode Gray
depth 8
hand-scanner false
three-pass false
three-pass-order RGB
resolution_min 1.0
resolution_max 1200.0
resolution_quant 1.0
resolution 150.0
test-picture %q
invert-endianess false
read-limit %t
read-limit-size 65536
read-delay %t
read-delay-duration %d
read-status-code %q
fuzzy-parameters false
ppl-loss 0
non-blocking false
select-fd false
enable-test-options false
geometry_min 0.0
geometry_max %d.0
geometry_quant 1.0
tl_x 0.0
tl_y 0.0
br_x 210.0
br_y 297.0
`, c.Devices, string(c.Picture), delay, delay, max(1000, c.ReadDelay.Microseconds()), status, bedMM)
	for name, text := range map[string]string{
		"dll.conf":  "# Written by sanesim: only the test backend, so device listing is instant.\ntest\n",
		"test.conf": conf,
	} {
		// Atomically, so a scanimage starting meanwhile reads the old file or
		// the new one, never half of one.
		if err := atomicfile.Write(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("sanesim: %w", err)
		}
	}
	return nil
}
