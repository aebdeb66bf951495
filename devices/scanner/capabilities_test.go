package scanner

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
)

// Option dumps as `scanimage -A` prints them for backends with different
// vocabularies (transcribed from their sources and user reports).
var optionDumps = map[string]string{
	"epson2": `All options specific to device ` + "`epson2:libusb:001:004'" + `:
  Scan Mode:
    --mode Lineart|Gray|Color [Lineart]
        Selects the scan mode (e.g., lineart, monochrome, or color).
    --depth 8|16 [inactive]
        Number of bits per sample, typical values are 1 for "line-art" and 8
        for multibit scans.
    --resolution 75|150|300|600|1200|2400dpi [75]
        Sets the resolution of the scanned image.
  Geometry:
    -l 0..215.9mm [0]
    -t 0..297.18mm [0]
    -x 0..215.9mm [215.9]
    -y 0..297.18mm [297.18]
  Optional equipment:
    --source Flatbed|Automatic Document Feeder [Flatbed]
        Selects the scan source (such as a document-feeder).
`,
	"brother": `
    --mode Black & White|Gray[Error Diffusion]|True Gray|24bit Color|24bit Color[Fast] [24bit Color]
        Select the scan mode
    --resolution 100|150|200|300|400|600|1200|2400|4800|9600dpi [200]
    --source FlatBed|Automatic Document Feeder(left aligned)|Automatic Document Feeder(centrally aligned) [Automatic Document Feeder(left aligned)]
    -x 0..215.9mm (in steps of 0.0999908) [215.88]
    -y 0..355.6mm (in steps of 0.0999908) [355.567]
`,
	"fujitsu": `
    --source ADF Front|ADF Back|ADF Duplex [ADF Front]
    --mode Lineart|Halftone|Gray|Color [Lineart]
    --resolution 50..600dpi (in steps of 1) [600]
    --page-width 0..221.121mm (in steps of 0.0211639) [215.872]
    -x 0..215.872mm (in steps of 0.0211639) [215.872]
    -y 0..279.364mm (in steps of 0.0211639) [279.364]
    --swdeskew[=(yes|no)] [no]
`,
	"colour-only, no source": `
    --mode Color [Color]
    --resolution 100..600dpi (in steps of 100) [300]
`,
	"flatbed only": `
    --mode Lineart|Gray|Color [Color]
    --source Flatbed [Flatbed] [read-only]
    --resolution 75|150|300dpi [75]
`,
}

func TestChoose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dump                  string
		colour                bool
		source                Source
		dpi                   int
		mode, src             string
		res                   int
		maxX, maxY            float64
		wantNoFeeder, noSrcOK bool
	}{
		{"epson2", false, Flatbed, 150, "Gray", "Flatbed", 150, 215.9, 297.18, false, false},
		{"epson2", true, Feeder, 300, "Color", "Automatic Document Feeder", 300, 215.9, 297.18, false, false},
		{"epson2", false, Flatbed, 200, "Gray", "Flatbed", 150, 215.9, 297.18, false, false}, // nearest of 150 and 300
		{"brother", false, Feeder, 150, "True Gray", "Automatic Document Feeder(left aligned)", 150, 215.9, 355.6, false, false},
		{"brother", true, Flatbed, 300, "24bit Color", "FlatBed", 300, 215.9, 355.6, false, false},
		{"brother", false, Flatbed, 250, "True Gray", "FlatBed", 300, 215.9, 355.6, false, false}, // tie 200/300 → higher
		{"fujitsu", false, Feeder, 150, "Gray", "ADF Front", 150, 215.872, 279.364, false, false},
		{"fujitsu", false, Flatbed, 150, "Gray", "", 150, 215.872, 279.364, true, false},
		{"fujitsu", true, Feeder, 700, "Color", "ADF Front", 600, 215.872, 279.364, false, false},
		{"colour-only, no source", false, Feeder, 150, "Color", "", 200, 0, 0, false, true},
		{"colour-only, no source", false, Flatbed, 75, "Color", "", 100, 0, 0, false, true},
		{"flatbed only", false, Feeder, 150, "Gray", "", 150, 0, 0, true, false},
	}
	for _, tc := range tests {
		caps := parseCapabilities(optionDumps[tc.dump])
		name := tc.dump + "/" + string(tc.source)
		if mode, _ := caps.chooseMode(tc.colour); mode != tc.mode {
			t.Errorf("%s: mode %q, want %q", name, mode, tc.mode)
		}
		src, ok, err := caps.chooseSource(tc.source)
		switch {
		case tc.wantNoFeeder:
			if !errors.Is(err, NoFeeder) {
				t.Errorf("%s: source %q %v, want NoFeeder", name, src, err)
			}
		case err != nil || src != tc.src || ok == tc.noSrcOK:
			t.Errorf("%s: source %q %v %v, want %q", name, src, ok, err, tc.src)
		}
		if res, _ := caps.chooseResolution(tc.dpi); res != tc.res {
			t.Errorf("%s: %d dpi chose %d, want %d", name, tc.dpi, res, tc.res)
		}
		if x, y := caps.maxExtent("x"), caps.maxExtent("y"); x != tc.maxX || y != tc.maxY {
			t.Errorf("%s: bed %vx%v, want %vx%v", name, x, y, tc.maxX, tc.maxY)
		}
	}
}

func TestParseOptionLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want option
		ok   bool
	}{
		{"    --mode Gray|Color [Gray]", option{name: "mode", values: []string{"Gray", "Color"}, current: "Gray"}, true},
		{"    --depth 8|16 [inactive]", option{name: "depth", values: []string{"8", "16"}, inactive: true}, true},
		{"    --resolution 1..1200dpi (in steps of 1) [50]", option{name: "resolution", isRange: true, min: 1, max: 1200, step: 1, current: "50"}, true},
		{"    -x 0..215.9mm [215.9]", option{name: "x", isRange: true, max: 215.9, current: "215.9"}, true},
		{"    --gamma-table 0..255,... (in steps of 1) [advanced]", option{name: "gamma-table"}, true},
		{"    --int <int> [inactive]", option{name: "int", inactive: true}, true},
		{"    --mode A|B[x y]|C[z] [B[x y]] [advanced]", option{name: "mode", values: []string{"A", "B[x y]", "C[z]"}, current: "B[x y]"}, true},
		{"    --source Flatbed [Flatbed] [read-only]", option{name: "source", values: []string{"Flatbed"}, current: "Flatbed"}, true},
		{"    --print-options", option{name: "print-options"}, true},
		{"    --hand-scanner[=(yes|no)] [no]", option{}, false},
		{"    --resolution 9..1dpi [5]", option{}, false},
		{"    --resolution NaN..1dpi [5]", option{}, false},
		{"--mode Gray|Color [Gray]", option{}, false}, // not indented: not an option line
		{"        Selects the scan mode (e.g., lineart, monochrome, or color).", option{}, false},
		{"    -- [x]", option{}, false},
	}
	for _, tc := range tests {
		got, ok := parseOptionLine(tc.line)
		if ok != tc.ok || (ok && !sameOption(got, tc.want)) {
			t.Errorf("parseOptionLine(%q) = %+v %v, want %+v %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func sameOption(a, b option) bool {
	return a.name == b.name && slices.Equal(a.values, b.values) && a.min == b.min && a.max == b.max &&
		a.step == b.step && a.isRange == b.isRange && a.current == b.current && a.inactive == b.inactive
}

// TestCapabilitiesOfTheTestBackend reads the real `scanimage -A` of the
// simulator and plans a feeder scan from it.
func TestCapabilitiesOfTheTestBackend(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t, sanesim.Config{})
	caps, err := s.probeCapabilities(context.Background(), sanesim.Device)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.plan(sanesim.Device, caps, ScanRequest{Pages: 3, DPI: 300, Colour: true, Source: Feeder})
	if err != nil {
		t.Fatal(err)
	}
	want := "--device-name=test:0 --format=pnm --batch=p%d.pnm --batch-print --progress --batch-count=3 " +
		"--source=Automatic Document Feeder --mode=Color --depth=8 --resolution=300 -l 0 -t 0 -x 210 -y 297"
	if got := strings.Join(j.args, " "); got != want {
		t.Errorf("scanimage %s\nwant      %s", got, want)
	}
}

// FuzzParseCapabilities: any text yields options the choosers can use without
// panicking, and ranges that are ordered and finite.
func FuzzParseCapabilities(f *testing.F) {
	for _, d := range optionDumps {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, text string) {
		caps := parseCapabilities(text)
		for _, o := range caps {
			if o.isRange && (!finite(o.min) || !finite(o.max) || o.min > o.max || o.step < 0) {
				t.Fatalf("range %+v", o)
			}
		}
		for _, c := range []bool{false, true} {
			caps.chooseMode(c)
		}
		for _, s := range []Source{Flatbed, Feeder} {
			_, _, _ = caps.chooseSource(s)
		}
		if dpi, ok := caps.chooseResolution(150); ok && dpi < 0 {
			t.Fatalf("dpi %d", dpi)
		}
	})
}
