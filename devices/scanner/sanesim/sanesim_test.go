package sanesim

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func needScanimage(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("scanimage"); err != nil {
		t.Skip("scanimage not installed (Debian package sane-utils)")
	}
}

func scanimage(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("scanimage", args...)
	cmd.Env = append(os.Environ(), "SANE_CONFIG_DIR="+dir, "LC_ALL=C")
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// TestWriteConfiguresTheBackend checks through scanimage that the backend took
// the configuration: listed devices, A4 bed, picture, defaults.
func TestWriteConfiguresTheBackend(t *testing.T) {
	t.Parallel()
	needScanimage(t)
	dir := filepath.Join(t.TempDir(), "sane")
	if err := Write(dir, Config{Picture: ColourPattern, Devices: 2}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("config dir: %v %v", fi.Mode(), err)
	}
	if out, _ := scanimage(t, dir, "-f", "%d%n"); out != "test:0\ntest:1\n" {
		t.Errorf("devices listed: %q", out)
	}
	out, code := scanimage(t, dir, "-d", Device, "-A")
	if code != 0 {
		t.Fatalf("scanimage -A exit %d: %s", code, out)
	}
	for _, want := range []string{"-x 0..297mm", "-y 0..297mm", "[Color pattern]", "--resolution 1..1200dpi (in steps of 1) [150]"} {
		if !strings.Contains(out, want) {
			t.Errorf("scanimage -A lacks %q:\n%s", want, out)
		}
	}
}

// TestFaults checks each fault reaches scanimage as the SANE status it names:
// scanimage exits with the status code.
func TestFaults(t *testing.T) {
	t.Parallel()
	needScanimage(t)
	codes := map[Fault]int{Busy: 3, Jammed: 6, NoDocs: 7, CoverOpen: 8, IOError: 9, AccessDenied: 11}
	for _, f := range Faults() {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := Write(dir, Config{Fault: f}); err != nil {
				t.Fatal(err)
			}
			out, code := scanimage(t, dir, "-d", Device, "--resolution", "10", "-o", "page.pnm")
			if code != codes[f] {
				t.Errorf("exit %d, want %d: %s", code, codes[f], out)
			}
			if back, err := ParseFault(string(f)); err != nil || back != f {
				t.Errorf("ParseFault(%q) = %q, %v", f, back, err)
			}
		})
	}
}

// TestReadDelaySlowsTheScan measures that the delay is applied: an A4 page at
// 150 dpi grey takes about 10 ms without it and 1.5 s with 100 ms.
func TestReadDelaySlowsTheScan(t *testing.T) {
	t.Parallel()
	needScanimage(t)
	dir := t.TempDir()
	if err := Write(dir, Config{ReadDelay: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if out, code := scanimage(t, dir, "-d", Device, "-o", "page.pnm"); code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	if d := time.Since(t0); d < time.Second {
		t.Errorf("scan took %s with a 100 ms delay between transfers", d)
	}
}

func TestWriteRejects(t *testing.T) {
	t.Parallel()
	for _, c := range []Config{
		{Picture: "Mona Lisa"},
		{Fault: "on-fire"},
		{ReadDelay: time.Second},
		{ReadDelay: time.Microsecond},
		{Devices: -1},
		{Devices: 17},
	} {
		if err := Write(t.TempDir(), c); err == nil {
			t.Errorf("Write accepted %+v", c)
		}
	}
	if _, err := ParseFault("on-fire"); err == nil || !strings.Contains(err.Error(), "jammed") {
		t.Errorf("ParseFault: %v", err)
	}
}
