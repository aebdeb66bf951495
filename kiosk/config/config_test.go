package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const minimal = `
kiosk:
  id: HCM-Q1-P01-K01
site:
  kind: hospital
  code: "79001"
  name: "Bệnh viện Quận 1"
`

func TestParseMinimalAppliesDefaults(t *testing.T) {
	t.Parallel()
	c, err := Parse("kiosk.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kiosk.ID != "HCM-Q1-P01-K01" || c.Site.Kind != SiteHospital || c.Site.Name != "Bệnh viện Quận 1" {
		t.Errorf("decoded %+v", c)
	}
	if c.UI.Listen != "127.0.0.1:8080" || c.UI.Language != "vi" || c.UI.IdleTimeout.D() != 90*time.Second {
		t.Errorf("UI defaults not applied: %+v", c.UI)
	}
	if c.Devices.Printer.WidthMM != 80 || c.StateDir != "/var/lib/kioskd" {
		t.Errorf("defaults not applied: %+v %q", c.Devices.Printer, c.StateDir)
	}
	if got := c.LineOf("site.kind"); got != 5 {
		t.Errorf("LineOf(site.kind) = %d, want 5", got)
	}
}

func TestDemoConfigIsValid(t *testing.T) {
	t.Parallel()
	c, err := Demo()
	if err != nil {
		t.Fatal(err)
	}
	// The demo reads the reader its panel and `kioskctl sim card` feed.
	if c.Devices.CardReader.Reader != "Virtual PCD 00 00" {
		t.Errorf("demo reader pattern %q", c.Devices.CardReader.Reader)
	}
	if c.Payment.BIN == "" || c.Payment.Account == "" {
		t.Errorf("the demo takes fees: payment %+v", c.Payment)
	}
}

func TestParseErrorsCarryLineAndSentence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string
		want  []string // each "line: fragment"
	}{
		{"unknown top-level key", "colour: blue\n", []string{"kiosk.yaml:8: unknown key \"colour\"; expected one of backend, control, devices"}},
		{"unknown nested key", "devices:\n  printer:\n    urii: tcp://x:9100\n", []string{"kiosk.yaml:10: devices.printer: unknown key \"urii\"; expected one of uri, width_mm"}},
		{"bad site kind", "", nil},
		{"bad printer uri", "devices:\n  printer:\n    uri: lpt1\n", []string{`kiosk.yaml:10: devices.printer.uri: "lpt1" is not a printer URI; expected tcp://HOST:PORT or usb:/dev/usb/lpN`}},
		{"bad width", "devices:\n  printer:\n    width_mm: 72\n", []string{"kiosk.yaml:10: devices.printer.width_mm: 72 is not a receipt width; expected 58 or 80"}},
		{"width not a number", "devices:\n  printer:\n    width_mm: wide\n", []string{"kiosk.yaml:10: expected a whole number"}},
		{"non-loopback UI", "ui:\n  listen: 0.0.0.0:8080\n", []string{`kiosk.yaml:9: ui.listen: "0.0.0.0:8080" is not a loopback address`}},
		{"bad duration", "ui:\n  idle_timeout: soon\n", []string{`kiosk.yaml:9: "soon" is not a duration; write it like 90s or 2m`}},
		{"short idle", "ui:\n  idle_timeout: 1s\n", []string{"kiosk.yaml:9: ui.idle_timeout: 1s is out of range"}},
		{"relative state dir", "state_dir: var/kiosk\n", []string{`kiosk.yaml:8: state_dir: "var/kiosk" is not an absolute path`}},
		{"backend creds in URL", "backend:\n  url: https://u:p@x.example/api\n", []string{"kiosk.yaml:9: backend.url: must not carry credentials"}},
		{"cert without key", "backend:\n  cert_file: /etc/kiosk/c.pem\n", []string{"kiosk.yaml:9: backend.cert_file: cert_file and key_file go together"}},
		{"bad reader glob", "devices:\n  card_reader:\n    reader: \"[\"\n", []string{`kiosk.yaml:10: devices.card_reader.reader: "[" is not a valid name pattern`}},
		{"st7789 without bus", "devices:\n  display:\n    kind: st7789\n", []string{"devices.display.spi_bus: an st7789 display needs spi_bus", "devices.display.dc_pin: an st7789 display needs dc_pin"}},
		{"section given a scalar", "devices: none\n", []string{"kiosk.yaml:8: devices: expected a section with keys"}},
		{"duplicate key", "ui:\n  language: vi\n  language: en\n", []string{"kiosk.yaml:10: mapping key \"language\" already defined at line 9"}},
		{"two unknown keys reported together", "foo: 1\nbar: 2\n", []string{"kiosk.yaml:8: unknown key \"foo\"", "kiosk.yaml:9: unknown key \"bar\""}},
		{"unsupported language", "ui:\n  language: fr\n", []string{`kiosk.yaml:9: ui.language: "fr" is not a supported language; expected vi or en`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			text := minimal + tt.extra
			want := tt.want
			if tt.name == "bad site kind" {
				text = strings.Replace(minimal, "kind: hospital", "kind: clinic", 1)
				want = []string{`kiosk.yaml:5: site.kind: "clinic" is not a site kind; expected ward or hospital`}
			}
			_, err := Parse("kiosk.yaml", []byte(text))
			if err == nil {
				t.Fatalf("no error for\n%s", text)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T is not Errors", err)
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
		})
	}
}

func TestParseEmptyAndGarbage(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "   \n", "- a\n- b\n", "kiosk: [\n", "\t\tkiosk:"} {
		if _, err := Parse("k.yaml", []byte(text)); err == nil {
			t.Errorf("Parse(%q) succeeded", text)
		} else if !strings.HasPrefix(err.Error(), "k.yaml") {
			t.Errorf("Parse(%q) error %q does not name the file", text, err)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := filepath.Join(dir, "kiosk.yaml")
	if err := os.WriteFile(f, []byte(minimal+"# comment\nlogging:\n  level: debug # inline comment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if c.Logging.Level != "debug" || c.Source != f {
		t.Errorf("got level %q source %q", c.Logging.Level, c.Source)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add(DemoYAML())
	f.Add([]byte("devices:\n  printer:\n    uri: tcp://[::1]:9100\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("fuzz.yaml", b)
		if err == nil && (c.Kiosk.ID == "" || c.Site.Code == "") {
			t.Fatalf("accepted config without id or site code")
		}
	})
}

func TestExampleConfigIsValid(t *testing.T) {
	t.Parallel()
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Devices.CardReader.Reader != "ACS ACR1252*" || c.Devices.Printer.URI != "tcp://127.0.0.1:9100" {
		t.Errorf("example decoded as %+v", c.Devices)
	}
}

func TestKeyFileMayBeTPM(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		keyFile string
		ok      bool
	}{{"/var/lib/kioskd/identity/device-key.pem", true}, {"tpm:/dev/tpmrm0", true}, {"tpm:tpmrm0", false}, {"key.pem", false}} {
		c := Defaults()
		c.Kiosk.ID, c.Site.Code = "K-1", "79001"
		c.Site.Kind = SiteWard
		c.Backend = Backend{URL: "https://gw.example/", CAFile: "/ca.pem", CertFile: "/cert.pem", KeyFile: tt.keyFile}
		errs := c.validate()
		if (len(errs) == 0) != tt.ok {
			t.Errorf("key_file %q: %v", tt.keyFile, errs)
		}
	}
}
