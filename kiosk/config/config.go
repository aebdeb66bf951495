// Package config owns the kiosk's configuration file: the one YAML file a technician
// edits (comments allowed), its defaults, and its validation. Every error names the
// file and line and says in a sentence what is expected, because the person reading
// it is standing at a kiosk with a laptop, not reading Go source. Unknown keys are
// errors: a misspelt key that is silently ignored is a kiosk misconfigured in the
// field.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the whole kiosk configuration.
type Config struct {
	Kiosk    Kiosk   `yaml:"kiosk"`
	Site     Site    `yaml:"site"`
	UI       UI      `yaml:"ui"`
	StateDir string  `yaml:"state_dir"`
	Control  Control `yaml:"control"`
	Metrics  Metrics `yaml:"metrics"`
	Logging  Logging `yaml:"logging"`
	Backend  Backend `yaml:"backend"`
	Payment  Payment `yaml:"payment"`
	Devices  Devices `yaml:"devices"`
	Source   string  `yaml:"-"` // the file it was loaded from, "" for built-in
	lines    lineMap

	// Hospital is for site kind hospital only: departments and staff (hospital.go).
	Hospital Hospital `yaml:"hospital"`
	// Insurance is the BHYT gateway hospital kiosks check cards with (insurance.go).
	Insurance Insurance `yaml:"insurance"`
	// Technician is the technician PIN (technician.go).
	Technician Technician `yaml:"technician"`
}

// Kiosk identifies this machine.
type Kiosk struct {
	ID string `yaml:"id"`
}

// SiteKind is what the kiosk serves.
type SiteKind string

// The two kinds of site.
const (
	SiteWard     SiteKind = "ward"
	SiteHospital SiteKind = "hospital"
)

// Site says where the kiosk stands.
type Site struct {
	Kind SiteKind `yaml:"kind"`
	Code string   `yaml:"code"`
	Name string   `yaml:"name"`
	// Procedures are the MaTTHC codes this ward kiosk offers, usually set by
	// the signed site configuration (provisioning/siteconfig); empty offers
	// the whole catalogue.
	Procedures []string `yaml:"procedures"`
}

// UI configures the local touchscreen server.
type UI struct {
	Listen      string   `yaml:"listen"`
	Language    string   `yaml:"language"`
	IdleTimeout Duration `yaml:"idle_timeout"`
	// SecretFile receives the per-boot secret the kiosk browser needs to open
	// the UI's websocket; kiosk-browser@.service reads it.
	SecretFile string `yaml:"secret_file"`
}

// Payment is the account VietQR fees are paid to.
type Payment struct {
	BIN         string   `yaml:"bin"`          // NAPAS acquirer BIN of the bank, 6 digits
	Account     string   `yaml:"account"`      // the agency's account number
	AccountName string   `yaml:"account_name"` // shown beside the QR so the citizen sees who is paid
	Timeout     Duration `yaml:"timeout"`      // how long a payment QR is shown before it expires
}

// Control configures the local control socket kioskctl talks to.
type Control struct {
	Socket string `yaml:"socket"`
	Group  string `yaml:"group"`
}

// Metrics configures the Prometheus and health endpoints.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// Logging configures the structured log.
type Logging struct {
	Level string `yaml:"level"`
}

// Backend is the provincial backend the kiosk forwards to.
type Backend struct {
	URL      string `yaml:"url"`
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ESTURL is the EST server the kiosk's certificate was enrolled with
	// (`kioskctl provision`); kioskd renews the certificate there before it
	// expires. "" turns renewal off.
	ESTURL string `yaml:"est_url"`
}

// Devices has one section per device family.
type Devices struct {
	CardReader     CardReader     `yaml:"card_reader"`
	Printer        Printer        `yaml:"printer"`
	Scanner        Scanner        `yaml:"scanner"`
	BarcodeScanner BarcodeScanner `yaml:"barcode_scanner"`
	Display        Display        `yaml:"display"`
	GPIO           GPIO           `yaml:"gpio"`
}

// CardReader configures the PC/SC reader for the chip ID card.
type CardReader struct {
	Enabled *bool  `yaml:"enabled"`
	Reader  string `yaml:"reader"`   // glob over PC/SC reader names; "" = any
	CSCADir string `yaml:"csca_dir"` // trust store for passive authentication
}

// Printer configures the receipt printer.
type Printer struct {
	URI     string `yaml:"uri"` // tcp://host:9100 or usb:/dev/usb/lp0; "" = none
	WidthMM int    `yaml:"width_mm"`
}

// Scanner configures the document scanner (a SANE device name).
type Scanner struct {
	Device    string `yaml:"device"`
	ConfigDir string `yaml:"sane_config_dir"` // a SANE config dir naming only this kiosk's backend; "" = /etc/sane.d
}

// BarcodeScanner configures the QR/barcode scanner.
type BarcodeScanner struct {
	Path string `yaml:"path"` // /dev/input/by-id/...-event-kbd (HID) or serial:/dev/ttyACM0
}

// Display configures the customer-facing QR display.
type Display struct {
	Kind     string `yaml:"kind"` // "" (none: QR shown on the touchscreen), st7789, ssd1306
	SPIBus   string `yaml:"spi_bus"`
	I2CBus   string `yaml:"i2c_bus"`
	DCPin    string `yaml:"dc_pin"`
	ResetPin string `yaml:"reset_pin"`
}

// GPIO names the pins of the cabinet's buttons, LED and tamper switch.
type GPIO struct {
	HelpButton   string `yaml:"help_button"`
	StatusLED    string `yaml:"status_led"`
	TamperSwitch string `yaml:"tamper_switch"`
	LockOnTamper bool   `yaml:"lock_on_tamper"`
}

// Duration is a time.Duration written as "90s", "2m".
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %q is not a duration; write it like 90s or 2m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Defaults are applied before the file is read, so a file only says what differs.
func Defaults() Config {
	return Config{
		Site:     Site{Kind: SiteWard},
		UI:       UI{Listen: "127.0.0.1:8080", Language: "vi", IdleTimeout: Duration(90 * time.Second), SecretFile: "/run/kioskd/ui-secret"},
		Payment:  Payment{Timeout: Duration(5 * time.Minute)},
		StateDir: "/var/lib/kioskd",
		Control:  Control{Socket: "/run/kioskd/control.sock", Group: "kiosk"},
		Metrics:  Metrics{Listen: "127.0.0.1:9464"},
		Logging:  Logging{Level: "info"},
		Devices: Devices{
			Printer: Printer{WidthMM: 80},
		},
	}
}

//go:embed demo.yaml
var demoYAML []byte

// Demo returns the built-in configuration `kioskd --demo` runs with.
func Demo() (*Config, error) {
	return Parse("(built-in demo config)", demoYAML)
}

// DemoYAML is the text of the built-in demo configuration.
func DemoYAML() []byte { return bytes.Clone(demoYAML) }

// Load reads and validates a configuration file.
func Load(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(file, b)
}

// Error is one problem in a configuration file.
type Error struct {
	File string
	Line int    // 0 when the problem is not tied to one line
	Key  string // dotted path, e.g. devices.printer.uri
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found, in file order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Parse decodes and validates configuration text. name is used in messages.
func Parse(name string, text []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(text, &root); err != nil {
		return nil, Errors{yamlError(name, err)}
	}
	c := Defaults()
	c.Source = name
	c.lines = lineMap{}
	if len(root.Content) == 0 {
		return nil, Errors{{File: name, Msg: "the file is empty; expected at least a kiosk: section with an id"}}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: doc.Line, Msg: "expected a mapping of sections (kiosk:, site:, ui:, devices: ...)"}}
	}
	c.lines.collect("", doc)
	// Unknown keys and bad values are reported together, so one round of edits
	// fixes the file; unknown keys do not affect decoding.
	errs := checkKeys(name, "", doc, typeOfConfig)
	if err := doc.Decode(&c); err != nil {
		errs = append(errs, yamlError(name, err))
		sortByLine(errs)
		return nil, errs
	}
	errs = append(errs, c.validate()...)
	if len(errs) > 0 {
		sortByLine(errs)
		return nil, errs
	}
	return &c, nil
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlError(name string, err error) *Error {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{File: name, Line: n, Msg: humanYAML(m[2])}
	}
	return &Error{File: name, Msg: humanYAML(strings.TrimPrefix(msg, "yaml: "))}
}

func humanYAML(s string) string {
	// yaml.v3 reports type mismatches in Go terms; say what the technician should write.
	if strings.Contains(s, "cannot unmarshal") {
		switch {
		case strings.Contains(s, "into int"):
			return "expected a whole number"
		case strings.Contains(s, "into bool"):
			return "expected true or false"
		case strings.Contains(s, "into string"):
			return "expected a single value, not a list or section"
		default:
			return "expected a section of keys here"
		}
	}
	return s
}

// lineMap remembers the line of every key so validation errors can point at it.
type lineMap map[string]int

func (m lineMap) collect(prefix string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := join(prefix, n.Content[i].Value)
		m[k] = n.Content[i].Line
		m.collect(k, n.Content[i+1])
	}
}

// LineOf returns the line of a dotted key, or 0 when the key came from defaults.
func (c *Config) LineOf(key string) int { return c.lines[key] }

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func (c *Config) errf(key, format string, args ...any) *Error {
	return &Error{File: c.Source, Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}

var kioskIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *Config) validate() Errors {
	var es Errors
	add := func(e *Error) { es = append(es, e) }
	if c.Kiosk.ID == "" {
		add(c.errf("kiosk.id", "missing; give this kiosk an id such as HCM-Q1-P01-K01"))
	} else if !kioskIDRE.MatchString(c.Kiosk.ID) {
		add(c.errf("kiosk.id", "%q is not a kiosk id; use letters, digits, '.', '_' or '-' (at most 64)", c.Kiosk.ID))
	}
	switch c.Site.Kind {
	case SiteWard, SiteHospital:
	default:
		add(c.errf("site.kind", "%q is not a site kind; expected ward or hospital", c.Site.Kind))
	}
	if c.Site.Code == "" {
		add(c.errf("site.code", "missing; expected the site's agency or facility code"))
	}
	if err := checkLoopbackAddr(c.UI.Listen); err != nil {
		add(c.errf("ui.listen", "%v", err))
	}
	switch c.UI.Language {
	case "vi", "en":
	default:
		add(c.errf("ui.language", "%q is not a supported language; expected vi or en", c.UI.Language))
	}
	if d := c.UI.IdleTimeout.D(); d < 10*time.Second || d > time.Hour {
		add(c.errf("ui.idle_timeout", "%s is out of range; expected between 10s and 1h", d))
	}
	if !path.IsAbs(c.UI.SecretFile) {
		add(c.errf("ui.secret_file", "%q is not an absolute path", c.UI.SecretFile))
	}
	if p := c.Payment; p.BIN != "" || p.Account != "" {
		if len(p.BIN) != 6 || strings.Trim(p.BIN, "0123456789") != "" {
			add(c.errf("payment.bin", "%q is not a NAPAS bank BIN; expected 6 digits such as 970436", p.BIN))
		}
		if p.Account == "" || len(p.Account) > 19 || strings.Trim(strings.ToUpper(p.Account), "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			add(c.errf("payment.account", "%q is not an account number; expected 1 to 19 letters or digits", p.Account))
		}
	}
	if d := c.Payment.Timeout.D(); d < 30*time.Second || d > 30*time.Minute {
		add(c.errf("payment.timeout", "%s is out of range; expected between 30s and 30m", d))
	}
	if !path.IsAbs(c.StateDir) {
		add(c.errf("state_dir", "%q is not an absolute path", c.StateDir))
	}
	if !path.IsAbs(c.Control.Socket) {
		add(c.errf("control.socket", "%q is not an absolute path", c.Control.Socket))
	}
	if err := checkLoopbackAddr(c.Metrics.Listen); err != nil {
		add(c.errf("metrics.listen", "%v", err))
	}
	switch c.Logging.Level {
	case "debug", "info", "warn", "error":
	default:
		add(c.errf("logging.level", "%q is not a log level; expected debug, info, warn or error", c.Logging.Level))
	}
	if c.Backend.URL != "" {
		u, err := url.Parse(c.Backend.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add(c.errf("backend.url", "%q is not a backend URL; expected https://host[:port]/path", c.Backend.URL))
		} else if u.User != nil || u.RawQuery != "" {
			add(c.errf("backend.url", "must not carry credentials or a query; put certificates in ca_file, cert_file and key_file"))
		}
	}
	if e := c.Backend.ESTURL; e != "" {
		if u, err := url.Parse(e); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" {
			add(c.errf("backend.est_url", "%q is not an EST server URL; expected https://host[:port]", e))
		}
	}
	if (c.Backend.CertFile == "") != (c.Backend.KeyFile == "") {
		add(c.errf("backend.cert_file", "cert_file and key_file go together; give both or neither"))
	}
	for _, k := range []struct{ key, v string }{
		{"backend.ca_file", c.Backend.CAFile}, {"backend.cert_file", c.Backend.CertFile}, {"backend.key_file", keyPath(c.Backend.KeyFile)},
		{"devices.card_reader.csca_dir", c.Devices.CardReader.CSCADir},
		{"devices.scanner.sane_config_dir", c.Devices.Scanner.ConfigDir},
	} {
		if k.v != "" && !path.IsAbs(k.v) {
			add(c.errf(k.key, "%q is not an absolute path", k.v))
		}
	}
	if p := c.Devices.CardReader.Reader; p != "" {
		if _, err := path.Match(p, ""); err != nil {
			add(c.errf("devices.card_reader.reader", "%q is not a valid name pattern; use * and ? as wildcards, e.g. \"ACS ACR1252*\"", p))
		}
	}
	if u := c.Devices.Printer.URI; u != "" {
		if err := CheckPrinterURI(u); err != nil {
			add(c.errf("devices.printer.uri", "%v", err))
		}
	}
	switch c.Devices.Printer.WidthMM {
	case 58, 80:
	default:
		add(c.errf("devices.printer.width_mm", "%d is not a receipt width; expected 58 or 80", c.Devices.Printer.WidthMM))
	}
	if p := c.Devices.BarcodeScanner.Path; p != "" {
		dev := strings.TrimPrefix(p, "serial:")
		if !path.IsAbs(dev) || !strings.HasPrefix(dev, "/dev/") {
			add(c.errf("devices.barcode_scanner.path", "%q is not a device; expected /dev/input/by-id/...-event-kbd or serial:/dev/ttyACM0", p))
		}
	}
	switch c.Devices.Display.Kind {
	case "":
	case "st7789":
		if c.Devices.Display.SPIBus == "" {
			add(c.errf("devices.display.spi_bus", "an st7789 display needs spi_bus, e.g. /dev/spidev0.0"))
		}
		if c.Devices.Display.DCPin == "" {
			add(c.errf("devices.display.dc_pin", "an st7789 display needs dc_pin, e.g. GPIO25"))
		}
	case "ssd1306":
		if c.Devices.Display.I2CBus == "" {
			add(c.errf("devices.display.i2c_bus", "an ssd1306 display needs i2c_bus, e.g. 1"))
		}
	default:
		add(c.errf("devices.display.kind", "%q is not a supported display; expected st7789, ssd1306 or nothing", c.Devices.Display.Kind))
	}
	es = append(es, c.validateHospital()...)
	es = append(es, c.validateInsurance()...)
	es = append(es, c.validateTechnician()...)
	sortByLine(es)
	return es
}

// keyPath is the path part of a key_file: a file, or the TPM device of a
// "tpm:/dev/tpmrm0" reference (the device key kept in the TPM).
func keyPath(keyFile string) string { return strings.TrimPrefix(keyFile, "tpm:") }

// CheckPrinterURI checks a receipt printer URI.
func CheckPrinterURI(s string) error {
	switch {
	case strings.HasPrefix(s, "tcp://"):
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" || u.Port() == "" || u.Path != "" {
			return fmt.Errorf("%q is not a network printer; expected tcp://HOST:PORT such as tcp://192.0.2.10:9100", s)
		}
		return nil
	case strings.HasPrefix(s, "usb:"):
		if !strings.HasPrefix(strings.TrimPrefix(s, "usb:"), "/dev/usb/lp") {
			return fmt.Errorf("%q is not a USB printer; expected usb:/dev/usb/lpN", s)
		}
		return nil
	}
	return fmt.Errorf("%q is not a printer URI; expected tcp://HOST:PORT or usb:/dev/usb/lpN", s)
}

// checkLoopbackAddr accepts host:port on a loopback address: the UI and metrics
// are for this machine only and must never be reachable from the ward's network.
func checkLoopbackAddr(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not an address; expected HOST:PORT such as 127.0.0.1:8080", s)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has no valid port; expected a number up to 65535", s)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; the kiosk serves only this machine (use 127.0.0.1)", s)
	}
	return nil
}

func sortByLine(es Errors) {
	for i := 1; i < len(es); i++ {
		for j := i; j > 0 && es[j].Line < es[j-1].Line; j-- {
			es[j], es[j-1] = es[j-1], es[j]
		}
	}
}
