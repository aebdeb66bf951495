package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnkiosk/kiosk/devices/scanner/sanesim"
	"github.com/vnkiosk/kiosk/kiosk/control"
	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
	"github.com/vnkiosk/kiosk/provisioning/selftest"
)

// runSelftest runs `kioskctl selftest --json` against socket and returns the
// report and the exit code.
func runSelftest(t *testing.T, socket string) (selftest.Report, int) {
	t.Helper()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskctl")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "selftest", "--json", "--socket", socket)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	var rep selftest.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("kioskctl selftest --json printed no report (%v), exit %d:\n%s\n%s", err, code, stdout.String(), stderr.String())
	}
	return rep, code
}

func byName(rep selftest.Report) map[string]selftest.Result {
	m := map[string]selftest.Result{}
	for _, c := range rep.Checks {
		m[c.Name] = c
	}
	return m
}

// TestSelftestDemo: on `kioskd --demo`, with a sample card on the reader,
// every check passes — the card answers, a test ticket prints on the printer
// simulator, SANE's test backend scans — and kioskctl exits 0.
func TestSelftestDemo(t *testing.T) {
	t.Parallel()
	k := startDemoKiosk(t)
	k.demo(t, "insert_card", "nguyen-van-an")
	k.waitCardPresent(t)
	rep, code := runSelftest(t, filepath.Join(filepath.Dir(k.stateDir), "c.sock"))
	// The only warning the demo may give depends on the machine, not on
	// kioskd: the test machine's free disk space. The display and the GPIO
	// are not configured in the demo, which a ward site does not need (ok).
	allowedWarn := map[string]bool{selftest.NameDisk: true}
	want := []string{selftest.NameCardReader, selftest.NamePrinter, selftest.NameScanner, selftest.NameBarcode,
		selftest.NameDisplay, selftest.NameGPIO, selftest.NameBackend, selftest.NameClock, selftest.NameDisk, selftest.NameCertificate}
	if len(rep.Checks) != len(want) {
		t.Fatalf("%d checks, want %d: %+v", len(rep.Checks), len(want), rep.Checks)
	}
	for i, c := range rep.Checks {
		if c.Name != want[i] {
			t.Errorf("check %d is %q, want %q", i, c.Name, want[i])
		}
		if c.Status != selftest.OK && !(c.Status == selftest.Warn && allowedWarn[c.Name]) {
			t.Errorf("%s: %s: %s (hint %q)", c.Name, c.Status, c.Reason, c.Hint)
		}
	}
	if code != 0 {
		t.Errorf("kioskctl selftest exited %d on the demo", code)
	}
	got := byName(rep)
	if r := got[selftest.NameCardReader].Reason; !strings.Contains(r, "answered") {
		t.Errorf("card reader: %q; want the card's answer to SELECT", r)
	}
	if r := got[selftest.NamePrinter].Reason; r != "test ticket printed" {
		t.Errorf("printer: %q", r)
	}
	pages, _ := filepath.Glob(filepath.Join(k.stateDir, "printed", "page-*.png"))
	if len(pages) != 1 {
		t.Errorf("the printer simulator printed %d pages, want the one test ticket", len(pages))
	}
	// Stopped first: its log buffer is written until it exits.
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	_ = k.cmd.Wait()
	if l := k.stderr.String(); strings.Contains(l, "Nguyễn") || strings.Contains(l, "001083012345") {
		t.Error("kioskd logged personal data of the card on the reader")
	}
}

// TestSelftestAbsentDevices: a kioskd whose configuration names a card reader
// that is not there, a printer at a closed port and a SANE device that does
// not exist, and has no backend, fails each of those checks with its reason,
// and kioskctl exits 1.
func TestSelftestAbsentDevices(t *testing.T) {
	t.Parallel()
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	dir := kiosktest.ShortTempDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	// A SANE configuration naming only the test backend keeps the device
	// lookup local and fast; "nosuch" is not among its devices.
	saneDir := filepath.Join(dir, "sane")
	if err := sanesim.Write(saneDir, sanesim.Config{}); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "c.sock")
	cfgFile := filepath.Join(dir, "kioskd.yaml")
	cfg := fmt.Sprintf(`kiosk: {id: SELFTEST-1}
site: {kind: ward, code: "000.00.00.H00"}
ui: {listen: "127.0.0.1:0", secret_file: %q}
metrics: {listen: "127.0.0.1:0"}
control: {socket: %q}
state_dir: %q
devices:
  card_reader: {reader: "No Such Reader"}
  printer: {uri: "tcp://%s", width_mm: 80}
  scanner: {device: nosuch, sane_config_dir: %q}
`, filepath.Join(dir, "ui-secret"), socket, filepath.Join(dir, "state"), closed, saneDir)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config", cfgFile)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kioskd log:\n%s", logs.String())
		}
	})
	cl := control.NewClient(socket)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err := cl.Status(context.Background()); err == nil && st.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("kioskd not ready")
		}
	}

	rep, code := runSelftest(t, socket)
	if code != 1 {
		t.Errorf("kioskctl selftest exited %d, want 1", code)
	}
	got := byName(rep)
	for _, tc := range []struct {
		name   string
		status selftest.Status
		reason string // a part of the reason
		hint   string // a part of the hint
	}{
		{selftest.NameCardReader, selftest.Fail, `no card reader found (no reader matches "No Such Reader")`, "check the USB cable; pcscd running?"},
		{selftest.NamePrinter, selftest.Fail, "printer not reachable at tcp://" + closed, "power and cable"},
		{selftest.NameScanner, selftest.Fail, "scanner not found", "scanimage -L"},
		{selftest.NameBarcode, selftest.OK, "not configured", ""},
		{selftest.NameBackend, selftest.Fail, "no backend configured", "backend.url"},
		{selftest.NameCertificate, selftest.Warn, "not provisioned", "kioskctl provision"},
	} {
		r, ok := got[tc.name]
		if !ok {
			t.Errorf("no %s check in %+v", tc.name, rep.Checks)
			continue
		}
		if r.Status != tc.status || !strings.Contains(r.Reason, tc.reason) || !strings.Contains(r.Hint, tc.hint) {
			t.Errorf("%s: %s %q (hint %q); want %s with %q (hint %q)", tc.name, r.Status, r.Reason, r.Hint, tc.status, tc.reason, tc.hint)
		}
	}
	if n, _ := filepath.Glob(filepath.Join(dir, "state", "printer-spool", "*")); len(n) != 0 {
		t.Errorf("a test ticket was spooled for an unreachable printer: %v", n)
	}
}
