package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vnkiosk/kiosk/kiosk/kiosktest"
)

func requireAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found; `make deps` installs package systemd")
	}
	return p
}

// TestUnitsVerify runs systemd-analyze verify on the units as installed, with
// ExecStart pointed at a freshly built kioskd (verify checks that it exists).
func TestUnitsVerify(t *testing.T) {
	t.Parallel()
	analyze := requireAnalyze(t)
	bin := kiosktest.BuildBinary(t, "github.com/vnkiosk/kiosk/cmd/kioskd")
	dir := t.TempDir()
	unit, err := os.ReadFile("kioskd.service")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kioskd.service"), []byte(strings.ReplaceAll(string(unit), "/usr/bin/kioskd", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	browser, err := os.ReadFile("kiosk-browser@.service")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kiosk-browser@tty1.service"), browser, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", filepath.Join(dir, "kioskd.service"), filepath.Join(dir, "kiosk-browser@tty1.service")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for kioskd\.service: ([0-9.]+)`)

func TestKioskdHardening(t *testing.T) {
	t.Parallel()
	analyze := requireAnalyze(t)
	out, err := exec.Command(analyze, "security", "--offline=true", "--no-pager", "kioskd.service").CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kioskd.service exposure %.1f", score)
	if score > 2.5 {
		t.Errorf("exposure %.1f > 2.5:\n%s", score, out)
	}
}

func TestUnitDirectives(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("kioskd.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"Type=notify", "WatchdogSec=", "User=kiosk", "StateDirectory=kioskd", "ProtectSystem=strict",
		"DevicePolicy=closed", "SystemCallFilter=@system-service", "CapabilityBoundingSet=\n", "NoNewPrivileges=yes",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("kioskd.service lacks %q", strings.TrimSpace(want))
		}
	}
}

// TestBrowserGetsSecret runs the kiosk browser's ExecStart with cage replaced by
// echo: the URL Chromium is given must carry the credential kioskd wrote.
func TestBrowserGetsSecret(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("kiosk-browser@.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	if !strings.Contains(unit, "LoadCredential=ui-secret:/run/kioskd/ui-secret\n") {
		t.Fatal("kiosk-browser@.service does not load the UI secret as a credential")
	}
	var line0 string
	for _, line := range strings.Split(unit, "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart=/bin/sh -c '"); ok {
			line0 = strings.TrimSuffix(v, "'")
		}
	}
	if line0 == "" {
		t.Fatal("no ExecStart=/bin/sh -c '...' line")
	}
	script := strings.Replace(line0, "exec /usr/bin/cage", "exec echo", 1)
	dir := t.TempDir()
	secret := strings.Repeat("0123456789abcdef", 4)
	if err := os.WriteFile(dir+"/ui-secret", []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = []string{"CREDENTIALS_DIRECTORY=" + dir, "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := " http://127.0.0.1:8080/#k=" + secret + "\n"; !strings.HasSuffix(string(out), want) {
		t.Errorf("chromium is started with %q, want it to end with %q", out, want)
	}
}
