package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/kiosk/config"
	"github.com/vnkiosk/kiosk/kiosk/daemon"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/kiosk/logging"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = Main(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestUsage(t *testing.T) {
	t.Parallel()
	if code, _, errOut := run(); code != 2 || !strings.Contains(errOut, "config check") {
		t.Errorf("no args: %d %q", code, errOut)
	}
	if code, _, errOut := run("frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", code, errOut)
	}
	if code, _, _ := run("status", "--bogus"); code != 2 {
		t.Errorf("bad flag exit %d", code)
	}
}

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("kiosk:\n  id: K1\nsite:\n  code: \"79\"\n"), 0o600)
	os.WriteFile(bad, []byte("kiosk:\n  id: K1\nsite:\n  code: \"79\"\ndevices:\n  printer:\n    uri: lpt1\n    speed: 9\n"), 0o600)
	if code, out, _ := run("config", "check", good); code != 0 || !strings.Contains(out, "ok (kiosk K1, ward site 79)") {
		t.Errorf("good: %d %q", code, out)
	}
	code, _, errOut := run("config", "check", bad)
	if code != 1 {
		t.Errorf("bad exit %d", code)
	}
	for _, want := range []string{bad + ":7: devices.printer.uri:", bad + `:8: devices.printer: unknown key "speed"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
	if code, _, _ := run("config", "check"); code != 2 {
		t.Errorf("missing FILE exit %d", code)
	}
}

func TestStatusAgainstRunningDaemon(t *testing.T) {
	t.Parallel()
	dir := kiosktest.ShortTempDir(t)
	cfg, err := config.Parse("k.yaml", []byte("kiosk:\n  id: STATUS-1\nsite:\n  kind: hospital\n  code: \"79001\"\nmetrics:\n  listen: 127.0.0.1:0\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Control.Socket = filepath.Join(dir, "c.sock")
	sigs := make(chan os.Signal, 1)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(context.Background(), daemon.Options{
			Config: cfg, Log: logging.New(io.Discard, nil), Signals: sigs, Notifier: nopNotifier{},
			Subsystems: []daemon.Subsystem{fakePrinter{}},
			Started:    func(string, string) { close(ready) },
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("daemon not ready")
	}
	code, out, errOut := run("status", "--socket", cfg.Control.Socket)
	if code != 0 {
		t.Fatalf("status exit %d: %s", code, errOut)
	}
	for _, want := range []string{"kiosk   STATUS-1 (hospital 79001)", "ready   yes", "uptime"} {
		if !strings.Contains(out, want) {
			t.Errorf("status output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = run("status", "--json", "--socket", cfg.Control.Socket)
	if code != 0 || !strings.Contains(out, `"kiosk_id": "STATUS-1"`) {
		t.Errorf("json: %d %s", code, out)
	}
	code, out, _ = run("devices", "--socket", cfg.Control.Socket)
	if code != 0 || !strings.Contains(out, "printer") || !strings.Contains(out, "degraded  tcp://192.0.2.10:9100  paper near end") {
		t.Errorf("devices: %d\n%s", code, out)
	}
	sigs <- syscall.SIGTERM
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	code, _, errOut = run("status", "--socket", cfg.Control.Socket)
	if code != 1 || !strings.Contains(errOut, "kioskd is not answering") {
		t.Errorf("after stop: %d %q", code, errOut)
	}
}

type nopNotifier struct{}

func (nopNotifier) Notify(string) error { return nil }

// fakePrinter is a device subsystem for the listing; the real drivers have their
// own tests.
type fakePrinter struct{}

func (fakePrinter) Name() string                { return "printer" }
func (fakePrinter) Start(context.Context) error { return nil }
func (fakePrinter) Stop(context.Context) error  { return nil }
func (fakePrinter) Attachment() string          { return "tcp://192.0.2.10:9100" }
func (fakePrinter) Health() daemon.Health {
	return daemon.Health{State: daemon.StateDegraded, Reason: "paper near end"}
}
